-- Freeze an article's audience once: (OR of its topic bitmaps) AND active. A re-run of the fan-out
-- after a crash reuses the first snapshot, so the recipient set (and bit positions) never changes.
-- KEYS[1] audience bitmap, KEYS[2] active bitmap, KEYS[3..] topic bitmaps
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
if #KEYS == 2 then
  -- No topics: a broadcast to every active subscriber.
  redis.call('BITOP', 'OR', KEYS[1], KEYS[2])
else
  local topics = {}
  for i = 3, #KEYS do table.insert(topics, KEYS[i]) end
  redis.call('BITOP', 'OR', KEYS[1], unpack(topics))
  redis.call('BITOP', 'AND', KEYS[1], KEYS[1], KEYS[2])
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  -- Empty result: keep an empty marker so the snapshot still counts as taken.
  redis.call('SET', KEYS[1], '')
end
return 1
