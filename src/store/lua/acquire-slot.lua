-- One global send slot (GCRA) plus the per-chat spacing, shared by every worker process.
-- KEYS[1] limiter (tat in µs), KEYS[2] chat cooldown key, KEYS[3] delivery record
-- ARGV[1] interval between sends (µs), ARGV[2] per-chat spacing (ms)
-- ARGV[3] (optional) the record field naming the chunk's current run, ARGV[4] the caller's run token
-- Returns {0, wait ms} with a slot reserved, {1, ms} when the chat must wait that long,
-- {2, 0} when the delivery was cancelled, {3, 0} when a newer run of the chunk took it over.
local state = redis.call('HGET', KEYS[3], 'state')
if state == 'cancelling' or state == 'cancelled' then return {2, 0} end
if ARGV[3] and ARGV[3] ~= '' then
  local owner = redis.call('HGET', KEYS[3], ARGV[3])
  if owner and owner ~= ARGV[4] then return {3, 0} end
end
local chatTtl = redis.call('PTTL', KEYS[2])
if chatTtl > 0 then return {1, chatTtl} end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local interval = tonumber(ARGV[1])
-- %.0f, not tostring(): Lua prints numbers with %.14g, which rounds a 16-digit µs timestamp to 100 µs
-- and with it every interval (950/s would become 909/s, 980/s would become 1000/s).
redis.call('SET', KEYS[1], string.format('%.0f', tat + interval), 'PX', math.floor((tat - now + interval) / 1000) + 60000)
local waitMs = math.floor((tat - now) / 1000)
redis.call('SET', KEYS[2], '1', 'PX', waitMs + tonumber(ARGV[2]))
return {0, waitMs}
