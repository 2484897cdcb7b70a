"""Token buckets in Redis, shared by every API process; one atomic script per request."""

from __future__ import annotations

import time

import redis

TOKEN_BUCKET = """
local rate, burst, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], math.ceil(burst / rate) + 1)
return tostring(wait)
"""


class RedisTokenBuckets:
    def __init__(self, url: str, namespace: str, rate_per_second: float, burst: int) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(TOKEN_BUCKET)
        self._prefix = f"{namespace}:rate:"
        self._rate, self._burst = rate_per_second, burst

    def acquire(self, key: str) -> float:
        wait = self._script(keys=[self._prefix + key],
                            args=[self._rate, self._burst, time.time()])
        return float(wait)

    def close(self) -> None:
        self._client.close()
