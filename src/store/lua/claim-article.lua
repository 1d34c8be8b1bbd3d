-- Dedupe and accept an article in one step, so a crash can't leave it "seen" but never queued.
-- KEYS[1] article, KEYS[2] delivery record, KEYS[3] pending zset, KEYS[4] stats,
-- KEYS[5] this hour's counters, KEYS[6..] seen keys
-- ARGV[1] article id, ARGV[2] ttl (s), ARGV[3] now (ms), ARGV[4] mode: 'deliver' | 'seen-only' | 'no-topic'
-- ARGV[5] article JSON, ARGV[6] priority
-- Returns {1, id} when accepted, {0, existing id} when it was already seen.
for i = 6, #KEYS do
  local existing = redis.call('GET', KEYS[i])
  if existing then
    -- Remember the other identities too, so an edited item that changed only one of them stays a duplicate.
    for j = 6, #KEYS do redis.call('SET', KEYS[j], existing, 'EX', ARGV[2], 'NX') end
    redis.call('HINCRBY', KEYS[4], 'duplicates', 1)
    return {0, existing}
  end
end
for i = 6, #KEYS do redis.call('SET', KEYS[i], ARGV[1], 'EX', ARGV[2]) end
local mode = ARGV[4]
if mode == 'seen-only' then
  redis.call('HINCRBY', KEYS[4], 'seen_on_first_poll', 1)
  return {1, ARGV[1]}
end
redis.call('SET', KEYS[1], ARGV[5], 'EX', ARGV[2])
redis.call('HINCRBY', KEYS[4], 'articles', 1)
redis.call('HINCRBY', KEYS[5], 'articles', 1)
redis.call('EXPIRE', KEYS[5], 172800)
if mode == 'no-topic' then
  redis.call('HINCRBY', KEYS[4], 'no_topic', 1)
  redis.call('HSET', KEYS[2], 'state', 'no_topic', 'queued_at', ARGV[3], 'priority', ARGV[6])
  redis.call('EXPIRE', KEYS[2], ARGV[2])
  return {1, ARGV[1]}
end
redis.call('HSET', KEYS[2], 'state', 'queued', 'queued_at', ARGV[3], 'priority', ARGV[6],
  'audience', 0, 'sent', 0, 'blocked', 0, 'failed', 0)
redis.call('EXPIRE', KEYS[2], ARGV[2])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[1])
return {1, ARGV[1]}
