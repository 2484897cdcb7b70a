"""The notification throttles' token buckets in Redis (production), shared by every dispatcher:
one Lua script takes a whole batch's tokens atomically.

The script is domain.notifications.throttles.take_all, step for step (the contract suite,
tests/integration/notifications/test_throttle_buckets_contract.py, runs both): each group takes
all its tokens or none; a refused one is answered by its first suppressing bucket short of
tokens (and promised nothing), else held for the one it waits longest for, each of its
holding buckets promising it a token after those promised before. A bucket is a hash (tokens,
at, promised) whose key expires once the bucket would be full again and its promises kept (a
full bucket with none is the same as no bucket). Numbers go in and out as text with 17 significant
digits, so Redis keeps exactly the doubles the math made. All keys of a call are in one Redis
(not a cluster: the keys of a batch span slots).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from domain.notifications.throttles import SUPPRESS, Ask, Shortfall

# KEYS: the buckets of the call. ARGV[1]: now (epoch seconds); ARGV[2]: the number of groups;
# then for each group its number of asks, and for each ask: its key's index in KEYS, capacity,
# refill per second, tokens needed, then 1 (else 0) if it suppresses, is urgent, is redeeming.
TAKE_ALL = """
local now, groups = tonumber(ARGV[1]), tonumber(ARGV[2])
local states, rules, changed = {}, {}, {}
local function stored(k)
  if states[k] == nil then
    local s = redis.call('HMGET', KEYS[k], 'tokens', 'at', 'promised')
    if s[1] then states[k] = {tonumber(s[1]), tonumber(s[2]), tonumber(s[3]) or 0}
    else states[k] = false end
  end
  return states[k]
end
local function refilled(k, capacity, rate)
  local s = stored(k)
  if not s then return {capacity, now, 0} end
  local at = math.max(s[2], now)
  return {math.min(capacity, s[1] + (at - s[2]) * rate), at, s[3]}
end
local answers, p = {}, 3
for g = 1, groups do
  local n = tonumber(ARGV[p]); p = p + 1
  local asks, current = {}, {}
  for i = 1, n do
    local k = tonumber(ARGV[p])
    local capacity, rate = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
    asks[i] = {k = k, capacity = capacity, rate = rate,
               needed = math.min(tonumber(ARGV[p + 3]), capacity),
               suppress = ARGV[p + 4] == '1', urgent = ARGV[p + 5] == '1',
               redeeming = ARGV[p + 6] == '1'}
    current[k] = refilled(k, capacity, rate)
    rules[k] = {capacity, rate}
    p = p + 7
  end
  local short, suppressing = {}, nil
  for i = 1, n do
    local a = asks[i]
    local s = current[a.k]
    if not (s[1] >= a.needed and (a.urgent or a.redeeming or s[3] <= now)) then
      a.index = i - 1
      short[#short + 1] = a
      if a.suppress and suppressing == nil then suppressing = a end
    end
  end
  if #short == 0 then
    for i = 1, n do
      local a = asks[i]
      local s = current[a.k]
      states[a.k] = {s[1] - a.needed, s[2], s[3]}
      changed[a.k] = true
    end
    answers[g] = {0}
  elseif suppressing ~= nil then
    local a = suppressing
    local have = current[a.k][1]
    answers[g] = {1, a.index, string.format('%.17g', have),
                  string.format('%.17g', math.max(0, a.needed - have) / a.rate)}
  else
    local longest = nil
    for _, a in ipairs(short) do
      local s = current[a.k]
      local due = now + math.max(0, a.needed - s[1]) / a.rate
      if not (a.urgent or a.redeeming) then
        if s[3] > now then due = math.max(due, s[3] + a.needed / a.rate) end
        states[a.k] = {s[1], s[2], due}
        current[a.k] = states[a.k]
        changed[a.k] = true
      end
      if longest == nil or due - now > longest[3] then longest = {a.index, s[1], due - now} end
    end
    answers[g] = {1, longest[1], string.format('%.17g', longest[2]),
                  string.format('%.17g', longest[3])}
  end
end
for k, _ in pairs(changed) do
  local s = states[k]
  redis.call('HSET', KEYS[k], 'tokens', string.format('%.17g', s[1]),
             'at', string.format('%.17g', s[2]), 'promised', string.format('%.17g', s[3]))
  local ttl = math.ceil(rules[k][1] / rules[k][2]) + 1
  if s[3] > now then ttl = ttl + math.ceil(s[3] - now) end
  redis.call('EXPIRE', KEYS[k], string.format('%d', math.min(ttl, 1000000000)))
end
return answers
"""


class RedisThrottleBuckets:
    def __init__(self, url: str, namespace: str) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(TAKE_ALL)
        self._prefix = f"{namespace}:throttle:"

    def take(self, groups: Sequence[Sequence[Ask]], now: float) -> list[Shortfall | None]:
        if not groups:
            return []
        keys: dict[str, int] = {}
        args: list[float | int | str] = [now, len(groups)]
        for asks in groups:
            args.append(len(asks))
            for ask in asks:
                index = keys.setdefault(self._prefix + ask.key, len(keys) + 1)
                args += [index, ask.rule.capacity, ask.rule.refill_per_second, ask.needed,
                         1 if ask.policy == SUPPRESS else 0, 1 if ask.urgent else 0,
                         1 if ask.redeeming else 0]
        answers = self._script(keys=list(keys), args=args)
        return [None if int(answer[0]) == 0
                else Shortfall(int(answer[1]), float(answer[2]), float(answer[3]))
                for answer in answers]

    def close(self) -> None:
        self._client.close()
