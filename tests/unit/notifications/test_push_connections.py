"""The connections of a push service (adapters/notifications/push_connections.py): how many,
and that closing the adapter closes all of them. Which priority goes on which connection is
proven against the stand-ins (tests/integration/notifications/test_fcm_provider.py, apns)."""

from __future__ import annotations

import asyncio

from adapters.notifications.push_connections import PushConnections


def test_one_urgent_client_and_the_configured_bulk_ones_all_closed_by_aclose() -> None:
    connections = PushConnections(bulk_connections=3, timeout_seconds=1.0)

    assert len(connections.clients) == 4
    assert connections.urgent in connections.clients
    assert not any(client.is_closed for client in connections.clients)
    asyncio.run(connections.aclose())
    assert all(client.is_closed for client in connections.clients)
