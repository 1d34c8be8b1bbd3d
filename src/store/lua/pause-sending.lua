-- Telegram answered 429: push the next global slot past retry_after for every worker.
-- KEYS[1] limiter (tat in µs); ARGV[1] pause (ms)
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local resume = now + tonumber(ARGV[1]) * 1000
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if resume > tat then
  redis.call('SET', KEYS[1], string.format('%.0f', resume), 'PX', tonumber(ARGV[1]) + 60000)
end
return 1
