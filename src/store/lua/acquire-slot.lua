-- One global send slot (GCRA) plus the per-chat spacing, shared by every worker process.
-- KEYS[1] limiter (tat in µs), KEYS[2] chat cooldown key, KEYS[3] delivery record
-- ARGV[1] interval between sends (µs), ARGV[2] per-chat spacing (ms)
-- Returns {0, wait ms} with a slot reserved, {1, ms} when the chat must wait that long,
-- {2, 0} when the delivery was cancelled.
local state = redis.call('HGET', KEYS[3], 'state')
if state == 'cancelling' or state == 'cancelled' then return {2, 0} end
local chatTtl = redis.call('PTTL', KEYS[2])
if chatTtl > 0 then return {1, chatTtl} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], tostring(tat + interval), 'PX', math.floor((tat - now + interval) / 1000) + 60000)
local waitMs = math.floor((tat - now) / 1000)
redis.call('SET', KEYS[2], '1', 'PX', waitMs + tonumber(ARGV[2]))
return {0, waitMs}
