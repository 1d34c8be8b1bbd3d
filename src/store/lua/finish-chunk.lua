-- KEYS[1] delivery record, KEYS[2] finished chunks set; ARGV[1] chunk number, ARGV[2] now
-- Returns 1 exactly once: to the worker that finished the last chunk.
redis.call('SADD', KEYS[2], ARGV[1])
local total = tonumber(redis.call('HGET', KEYS[1], 'chunks') or '-1')
local state = redis.call('HGET', KEYS[1], 'state')
if redis.call('SCARD', KEYS[2]) >= total and (state == 'sending' or state == 'cancelling') then
  redis.call('HSET', KEYS[1], 'state', state == 'cancelling' and 'cancelled' or 'done', 'finished_at', ARGV[2])
  return 1
end
return 0
