"""Live updates across processes through Redis pub/sub (production)."""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from typing import Any

import redis
import redis.asyncio

from projections.messaging.live import LocalFanOut

log = logging.getLogger(__name__)


class RedisLiveUpdates:
    """Publishes from any process; each API process relays the channel to its own sockets."""

    def __init__(self, url: str, namespace: str) -> None:
        self._url = url
        self._channel = f"{namespace}:live"
        self._publisher = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._local = LocalFanOut()
        self._listener: asyncio.Task[None] | None = None
        self._lock = threading.Lock()

    def publish(self, notification: dict[str, Any]) -> None:
        try:
            self._publisher.publish(self._channel, json.dumps(notification))
        except redis.RedisError as error:
            # sockets fall back to their periodic re-read; the feed itself is not affected
            log.warning("live update not published: %s", type(error).__name__)

    def subscribe(self) -> asyncio.Queue[dict[str, Any]]:
        with self._lock:
            if self._listener is None or self._listener.done():
                self._listener = asyncio.get_running_loop().create_task(self._listen())
        return self._local.subscribe()

    def unsubscribe(self, queue: asyncio.Queue[dict[str, Any]]) -> None:
        self._local.unsubscribe(queue)

    def recent_stream(self) -> list[dict[str, Any]]:
        return self._local.recent_stream()

    async def _listen(self) -> None:
        while True:
            try:
                client = redis.asyncio.Redis.from_url(self._url)
                async with client.pubsub() as pubsub:
                    await pubsub.subscribe(self._channel)
                    async for message in pubsub.listen():
                        if message.get("type") == "message":
                            self._local.publish(json.loads(message["data"]))
            except (redis.RedisError, OSError) as error:
                log.warning("live updates listener lost Redis (%s); retrying",
                            type(error).__name__)
                await asyncio.sleep(1.0)

    def close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        self._publisher.close()
