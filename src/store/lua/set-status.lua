-- KEYS[1] sub hash, KEYS[2] active bitmap, KEYS[3] blocked bitmap
-- ARGV[1] status (active|stopped|blocked), ARGV[2] now
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'updated_at', ARGV[2])
redis.call('SETBIT', KEYS[2], tonumber(uid), ARGV[1] == 'active' and 1 or 0)
redis.call('SETBIT', KEYS[3], tonumber(uid), ARGV[1] == 'blocked' and 1 or 0)
return 1
