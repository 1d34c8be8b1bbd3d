-- Replace a subscriber's topics: the record's csv and every topic bitmap change together.
-- KEYS[1] sub hash, KEYS[2..] the bitmap of every catalog topic
-- ARGV[1] now, ARGV[2..] topic id for each bitmap key, in the same order;
-- ARGV[#KEYS+1] mode: 'set' (ARGV[#KEYS+2] = csv of chosen ids) or 'toggle' (ARGV[#KEYS+2] = one id)
-- or 'all' (select all; if all are already selected, clear all). Returns the new csv or false.
local uid = redis.call('HGET', KEYS[1], 'uid')
if not uid then return false end
uid = tonumber(uid)
local n = #KEYS - 1
local mode = ARGV[n + 2]
local arg = ARGV[n + 3] or ''
local current = {}
for id in string.gmatch(redis.call('HGET', KEYS[1], 'topics') or '', '[^,]+') do current[id] = true end
local wanted = {}
if mode == 'set' then
  for id in string.gmatch(arg, '[^,]+') do wanted[id] = true end
elseif mode == 'toggle' then
  for id in pairs(current) do wanted[id] = true end
  if wanted[arg] then wanted[arg] = nil else wanted[arg] = true end
elseif mode == 'all' then
  local all = true
  for i = 1, n do if not current[ARGV[i + 1]] then all = false end end
  if not all then for i = 1, n do wanted[ARGV[i + 1]] = true end end
end
local chosen = {}
for i = 1, n do
  local id = ARGV[i + 1]
  if wanted[id] then
    table.insert(chosen, id)
    redis.call('SETBIT', KEYS[i + 1], uid, 1)
  else
    redis.call('SETBIT', KEYS[i + 1], uid, 0)
  end
end
local csv = table.concat(chosen, ',')
redis.call('HSET', KEYS[1], 'topics', csv, 'updated_at', ARGV[1])
return csv
