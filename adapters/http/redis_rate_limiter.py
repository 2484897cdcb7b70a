"""Token buckets and failure backoff in Redis, shared by every API process; one atomic script
per request."""

from __future__ import annotations

import time

import redis

from api.http.rate_limits import BackoffRule

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


# KEYS[1]: the failures hash. ARGV: now, free failures, base, max, window (seconds).
FAILED = """
local now, free, base, cap, window = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]),
  tonumber(ARGV[4]), tonumber(ARGV[5])
local failures = redis.call('HINCRBY', KEYS[1], 'failures', 1)
local lock = 0
if failures > free then lock = math.min(cap, base * 2 ^ math.min(40, failures - free - 1)) end
redis.call('HSET', KEYS[1], 'until', tostring(now + lock))
redis.call('EXPIRE', KEYS[1], math.ceil(math.max(lock, window)) + 1)
return tostring(lock)
"""


class RedisFailureBackoff:
    """Failure counts shared by every API process; the key expires a window after the last."""

    def __init__(self, url: str, namespace: str, rule: BackoffRule) -> None:
        self._client = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._client.register_script(FAILED)
        self._prefix = f"{namespace}:failures:"
        self._rule = rule

    def wait(self, key: str) -> float:
        until = self._client.hget(self._prefix + key, "until")
        return 0.0 if until is None else max(0.0, float(until) - time.time())

    def failed(self, key: str) -> float:
        rule = self._rule
        lock = self._script(keys=[self._prefix + key], args=[
            time.time(), rule.free_failures, rule.base_seconds, rule.max_seconds,
            rule.window_seconds])
        return float(lock)

    def forget(self, key: str) -> None:
        self._client.delete(self._prefix + key)

    def close(self) -> None:
        self._client.close()
