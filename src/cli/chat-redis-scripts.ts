// The Lua scripts of the chat's presence registry in Redis (chat-redis.ts describes the keys and the
// rules). Each runs atomically; each first sweeps the processes whose heartbeat stopped.

// Redis's clock, the sweep of dead processes, this process's registration. KEYS: members, processes,
// guests, restoring. ARGV: [1] process id, [2] ttl ms, [3] "1" if this process was registered before,
// [4] restoring ms; the script's own from [5]. Sets `now` and `known` (this process is registered).
const PROLOGUE = `
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local dead = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now)
if #dead > 0 then
  local gone = {}
  for _, id in ipairs(dead) do gone[id] = true end
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if gone[all[i + 1]] then redis.call('HDEL', KEYS[1], all[i]) end
  end
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
end
local known = redis.call('ZSCORE', KEYS[2], ARGV[1])
if not known and ARGV[3] == '1' then redis.call('SET', KEYS[4], now, 'PX', ARGV[4], 'NX') end
redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[1])
`;

// ARGV from [5]: requested name ("" for a guest), its key, names this process holds, the room's channel,
// settle ms, how its subscribers are counted ("NUMSUB", or "SHARDNUMSUB" on a Redis Cluster: the room's
// channel is then a sharded channel in the keys' slot, so this node is the one that knows them). Returns {name, count}, or {"", -1} (register your members first) or {"", -2, ms} (the registry
// is being restored: ask again).
export const JOIN = `${PROLOGUE}
if not known and tonumber(ARGV[7]) > 0 then return {'', -1} end
local restoring = tonumber(redis.call('GET', KEYS[4]))
if restoring then
  local settled = restoring + tonumber(ARGV[9])
  if now < settled then return {'', -2, settled - now} end
  if ARGV[8] ~= '' then
    local subscribed = redis.call('PUBSUB', ARGV[10] or 'NUMSUB', ARGV[8])[2]
    local holders, seen = 0, {}
    for _, owner in ipairs(redis.call('HVALS', KEYS[1])) do
      if not seen[owner] then
        seen[owner] = true
        holders = holders + 1
      end
    end
    if subscribed > holders then return {'', -2, 100} end
  end
end
local function digits(n) return (string.gsub(tostring(n), '[01]', {['0'] = 'o', ['1'] = 'l'})) end
local name, key = ARGV[5], ARGV[6]
if name == '' then
  repeat
    local n = redis.call('INCR', KEYS[3])
    name, key = 'guest-' .. n, 'guest-' .. digits(n)
  until redis.call('HEXISTS', KEYS[1], key) == 0
else
  local base, baseKey, n = name, key, 2
  while redis.call('HEXISTS', KEYS[1], key) == 1 do
    name, key = base .. '-' .. n, baseKey .. '-' .. digits(n)
    -- Past name-50, numbers from the guest counter (+ 50), which only grows: as uniqueName() does.
    if n >= 50 then n = 50 + redis.call('INCR', KEYS[3]) else n = n + 1 end
  end
end
redis.call('HSET', KEYS[1], key, ARGV[1])
return {name, redis.call('HLEN', KEYS[1])}
`;

// ARGV from [5]: name key.
export const LEAVE = `${PROLOGUE}
if redis.call('HGET', KEYS[1], ARGV[5]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[5]) end
return redis.call('HLEN', KEYS[1])
`;

// ARGV from [5]: name keys… The process leaves the room with all its members.
export const LEAVE_ALL = `${PROLOGUE}
for i = 5, #ARGV do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[1] then redis.call('HDEL', KEYS[1], ARGV[i]) end
end
redis.call('ZREM', KEYS[2], ARGV[1])
return redis.call('HLEN', KEYS[1])
`;

// ARGV from [5]: "prune" or "keep", name keys… Still alive, with exactly these members: those Redis lost
// are registered again, and (with "prune") those it still has but that left are dropped. Returns
// {count, keys held by another process…}.
export const HEARTBEAT = `${PROLOGUE}
local mine = {}
for i = 6, #ARGV do mine[ARGV[i]] = true end
if ARGV[5] == 'prune' then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    if all[i + 1] == ARGV[1] and not mine[all[i]] then redis.call('HDEL', KEYS[1], all[i]) end
  end
end
local taken = {}
for i = 6, #ARGV do
  if redis.call('HSETNX', KEYS[1], ARGV[i], ARGV[1]) == 0 and redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[1] then
    taken[#taken + 1] = ARGV[i]
  end
end
return {redis.call('HLEN', KEYS[1]), unpack(taken)}
`;
