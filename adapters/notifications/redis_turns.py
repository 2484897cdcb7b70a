"""The dispatchers' token turns in Redis (production): commands/notifications/shared_turns.py
TurnRegistry, in the Redis the throttle buckets use.

One sorted set per deployment: a member `<rank>|<dispatcher id>` per rank a dispatcher's
batches await tokens at, scored by when its lease ends (milliseconds of the Redis server's
clock, so the dispatchers' hosts need not agree on the time). Each script drops the leases
that ended, so the set holds at most four members per live dispatcher, and the key itself
expires with its last lease: a deployment that stops leaves nothing behind.
"""

from __future__ import annotations

import redis

from commands.notifications.shared_turns import TURN_LEASE_SECONDS

# KEYS[1]: the set. ARGV[1]: this dispatcher's id; ARGV[2]: the lease (ms); then its ranks.
HOLD = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local mine, held = '|' .. ARGV[1], {}
for i = 3, #ARGV do held[ARGV[i] .. mine] = true end
for _, member in ipairs(redis.call('ZRANGE', KEYS[1], 0, -1)) do
  if string.sub(member, -#mine) == mine and not held[member] then
    redis.call('ZREM', KEYS[1], member)
  end
end
for member, _ in pairs(held) do
  redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), member)
end
local last = redis.call('ZRANGE', KEYS[1], -1, -1, 'WITHSCORES')
if last[2] then redis.call('PEXPIREAT', KEYS[1], math.floor(tonumber(last[2])) + 1) end
return 0
"""

# KEYS[1]: the set. ARGV[1]: this dispatcher's id; ARGV[2]: the rank of the batch asking.
MORE_URGENT = """
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
local mine, rank = '|' .. ARGV[1], tonumber(ARGV[2])
for _, member in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. now, '+inf')) do
  local bar = string.find(member, '|', 1, true)
  if tonumber(string.sub(member, 1, bar - 1)) < rank and string.sub(member, -#mine) ~= mine then
    return 1
  end
end
return 0
"""


class RedisTurnRegistry:
    """One dispatcher's view of the shared turns. Its calls are bounded by `timeout_seconds`
    (short: a waiting batch's look must not outlast its patience by much)."""

    def __init__(self, url: str, namespace: str, dispatcher_id: str, *,
                 lease_seconds: float = TURN_LEASE_SECONDS,
                 timeout_seconds: float = 0.25) -> None:
        if "|" in dispatcher_id:
            raise ValueError("a dispatcher id has no '|'")
        self._client = redis.Redis.from_url(url, socket_timeout=timeout_seconds,
                                            socket_connect_timeout=timeout_seconds)
        self._hold = self._client.register_script(HOLD)
        self._more_urgent = self._client.register_script(MORE_URGENT)
        self._key = f"{namespace}:throttle-turns"
        self._id = dispatcher_id
        self._lease_ms = max(1, int(lease_seconds * 1000))

    def hold(self, ranks: frozenset[int]) -> None:
        self._hold(keys=[self._key], args=[self._id, self._lease_ms, *sorted(ranks)])

    def more_urgent_than(self, priority_rank: int) -> bool:
        return bool(self._more_urgent(keys=[self._key], args=[self._id, priority_rank]))

    def close(self) -> None:
        self._client.close()
