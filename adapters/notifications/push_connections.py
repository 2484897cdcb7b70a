"""The HTTP/2 connections of one push service (FCM, APNs), chosen by a delivery's priority.

An httpx client keeps one HTTP/2 connection per origin and multiplexes at most 100 streams on
it (the 101st request waits for a free one), and the requests on a connection wait behind each
other's responses: a bulk backlog on the only connection delays an urgent push by seconds
(docs/benchmarks.md, "Critical latency under a bulk backlog"). So critical and high pushes go
on a client (a connection) of their own, and normal and bulk ones on the least busy of
`bulk_connections` others, so bulk is not capped at 100 streams per service either. Every
client trusts the same CAs; the adapter's token (FCM bearer, APNs provider JWT) is one for all.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from adapters.notifications.http_posts import bounded, client_tls
from commands.notifications.providers import ProviderAnswer
from domain.notifications.channels import CRITICAL, HIGH

URGENT_PRIORITIES = frozenset({CRITICAL, HIGH})
BULK_CONNECTIONS_KEY = "bulk_connections"
DEFAULT_BULK_CONNECTIONS = 2
MAX_BULK_CONNECTIONS = 16


def bulk_connections(entry: Mapping[str, Any]) -> int:
    """The entry's `bulk_connections` (default 2): how many connections normal and bulk
    pushes share; a ValueError unless a whole number from 1 to 16."""
    value = entry.get(BULK_CONNECTIONS_KEY, DEFAULT_BULK_CONNECTIONS)
    if isinstance(value, bool) or not isinstance(value, int) or not (
            1 <= value <= MAX_BULK_CONNECTIONS):
        raise ValueError(f"{BULK_CONNECTIONS_KEY} must be a whole number from 1 to "
                         f"{MAX_BULK_CONNECTIONS}")
    return value


class PushConnections:
    """One client for urgent pushes (and token exchanges, which every send may wait on), and
    `bulk_connections` for the rest, each used by the fewest requests in flight."""

    def __init__(self, *, bulk_connections: int = DEFAULT_BULK_CONNECTIONS,
                 timeout_seconds: float, ca_file: str | None = None) -> None:
        tls = client_tls(ca_file)

        def client() -> httpx.AsyncClient:
            return httpx.AsyncClient(http2=True, verify=tls,
                                     timeout=httpx.Timeout(timeout_seconds))

        self.urgent = client()
        self._bulk = [client() for _ in range(bulk_connections)]
        self._in_flight = [0] * bulk_connections

    def __repr__(self) -> str:
        return f"PushConnections(bulk_connections={len(self._bulk)})"

    @property
    def clients(self) -> tuple[httpx.AsyncClient, ...]:
        return (self.urgent, *self._bulk)

    async def post(self, priority: str, url: str, *, seconds: float,
                   **request: Any) -> httpx.Response | ProviderAnswer:
        """`bounded`'s POST on the connection for `priority`."""
        if priority in URGENT_PRIORITIES:
            return await bounded(self.urgent, "POST", url, seconds=seconds, **request)
        least_busy = min(range(len(self._bulk)), key=self._in_flight.__getitem__)
        self._in_flight[least_busy] += 1
        try:
            return await bounded(self._bulk[least_busy], "POST", url, seconds=seconds,
                                 **request)
        finally:
            self._in_flight[least_busy] -= 1

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
