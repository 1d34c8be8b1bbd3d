-- Create or reactivate a subscriber. Topic bits are preferences and survive /stop, so
-- reactivation only sets the active bit.
-- KEYS[1] sub hash, KEYS[2] uid counter, KEYS[3] uid map, KEYS[4] active bitmap,
-- KEYS[5] bitmap of subscribers whose language is not the default one (ru), KEYS[6] blocked bitmap
-- ARGV[1] chat id, ARGV[2] language for a new subscriber, ARGV[3] now (ms)
local uid = redis.call('HGET', KEYS[1], 'uid')
local created = 0
if not uid then
  uid = redis.call('INCR', KEYS[2]) - 1
  redis.call('SETRANGE', KEYS[3], uid * 8, struct.pack('<d', tonumber(ARGV[1])))
  redis.call('HSET', KEYS[1], 'chat_id', ARGV[1], 'uid', uid, 'lang', ARGV[2], 'topics', '',
    'joined_at', ARGV[3])
  redis.call('SETBIT', KEYS[5], uid, ARGV[2] == 'ru' and 1 or 0)
  created = 1
end
redis.call('HSET', KEYS[1], 'status', 'active', 'updated_at', ARGV[3])
redis.call('SETBIT', KEYS[4], tonumber(uid), 1)
redis.call('SETBIT', KEYS[6], tonumber(uid), 0)
return created
