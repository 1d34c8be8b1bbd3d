-- Record one recipient's outcome exactly once: the done bit guards the counters, so a retried
-- chunk or a second worker can never count (or send to) a recipient twice.
-- KEYS[1] done bitmap, KEYS[2] delivery record, KEYS[3] failure reasons,
-- KEYS[4] this hour's counters, KEYS[5] this hour's failure reasons (for /stats)
-- ARGV[1] uid, ARGV[2] outcome field (sent|blocked|failed), ARGV[3] failure reason, ARGV[4] now
local old = redis.call('SETBIT', KEYS[1], tonumber(ARGV[1]), 1)
if old == 1 then return 0 end
redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
redis.call('HINCRBY', KEYS[4], ARGV[2], 1)
redis.call('EXPIRE', KEYS[4], 172800)
if ARGV[2] == 'failed' and ARGV[3] ~= '' then
  redis.call('HINCRBY', KEYS[3], ARGV[3], 1)
  redis.call('HINCRBY', KEYS[5], ARGV[3], 1)
  redis.call('EXPIRE', KEYS[5], 172800)
end
redis.call('HSETNX', KEYS[2], 'started_at', ARGV[4])
return 1
