"""The notification throttles' token buckets in Redis (production), shared by every dispatcher:
one Lua script takes a whole batch's tokens atomically.

The script is domain.notifications.throttles.take_all, step for step (the contract suite,
tests/integration/notifications/test_throttle_buckets_contract.py, runs both): each group takes
all its tokens or none; a refused one is answered by its first suppressing bucket short of
tokens, else the one it waits longest for, and counts as owed so the next refused waits for a
later token. A bucket is a hash (tokens, at) whose key expires once the bucket would be full
again (a full bucket is the same as none). Numbers go in and out as text with 17 significant
digits, so Redis keeps exactly the doubles the math made. All keys of a call are in one Redis
(not a cluster: the keys of a batch span slots).
"""

from __future__ import annotations

from collections.abc import Sequence

import redis

from domain.notifications.throttles import SUPPRESS, Ask, Shortfall

# KEYS: the buckets of the call. ARGV[1]: now (epoch seconds); ARGV[2]: the number of groups;
# then for each group its number of asks, and for each ask: its key's index in KEYS, capacity,
# refill per second, tokens needed, 1 if it suppresses (else 0).
TAKE_ALL = """
local now, groups = tonumber(ARGV[1]), tonumber(ARGV[2])
local states, rules, changed, owed = {}, {}, {}, {}
local function stored(k)
  if states[k] == nil then
    local s = redis.call('HMGET', KEYS[k], 'tokens', 'at')
    if s[1] then states[k] = {tonumber(s[1]), tonumber(s[2])} else states[k] = false end
  end
  return states[k]
end
local function refilled(k, capacity, rate)
  local s = stored(k)
  if not s then return capacity, now end
  local at = math.max(s[2], now)
  return math.min(capacity, s[1] + (at - s[2]) * rate), at
end
local answers, p = {}, 3
for g = 1, groups do
  local n = tonumber(ARGV[p]); p = p + 1
  local asks = {}
  for i = 1, n do
    local k = tonumber(ARGV[p])
    local capacity, rate = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
    local needed = math.min(tonumber(ARGV[p + 3]), capacity)
    local have, at = refilled(k, capacity, rate)
    asks[i] = {k = k, capacity = capacity, rate = rate, needed = needed,
               suppress = ARGV[p + 4] == '1', have = have, at = at}
    rules[k] = {capacity, rate}
    p = p + 5
  end
  local suppressing, longest = nil, nil
  for i = 1, n do
    local a = asks[i]
    if a.have < a.needed then
      a.wait = (a.needed + (owed[a.k] or 0) - a.have) / a.rate
      a.index = i - 1
      if a.suppress and suppressing == nil then suppressing = a end
      if longest == nil or a.wait > longest.wait then longest = a end
    end
  end
  if longest == nil then
    for i = 1, n do
      local a = asks[i]
      states[a.k] = {a.have - a.needed, a.at}
      changed[a.k] = true
    end
    answers[g] = {0}
  else
    local why = suppressing or longest
    answers[g] = {1, why.index, string.format('%.17g', why.have), string.format('%.17g', why.wait)}
    for i = 1, n do
      local a = asks[i]
      if a.wait ~= nil and not a.suppress then owed[a.k] = (owed[a.k] or 0) + a.needed end
    end
  end
end
for k, _ in pairs(changed) do
  local s = states[k]
  redis.call('HSET', KEYS[k], 'tokens', string.format('%.17g', s[1]),
             'at', string.format('%.17g', s[2]))
  local ttl = math.min(math.ceil(rules[k][1] / rules[k][2]) + 1, 1000000000)
  redis.call('EXPIRE', KEYS[k], string.format('%d', ttl))
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
                         1 if ask.policy == SUPPRESS else 0]
        answers = self._script(keys=list(keys), args=args)
        return [None if int(answer[0]) == 0
                else Shortfall(int(answer[1]), float(answer[2]), float(answer[3]))
                for answer in answers]

    def close(self) -> None:
        self._client.close()
