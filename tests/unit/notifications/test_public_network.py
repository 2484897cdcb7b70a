"""Which addresses Parley connects to for URLs its users registered (webhook endpoints): the
public internet only, and the address it checked, not a second resolution of the name."""

from __future__ import annotations

import asyncio
from typing import Any

import httpcore
import pytest

from adapters.notifications.public_network import (
    NonPublicAddress,
    PublicNetworkOnly,
    address_problem,
)


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c",
                                     "8.8.8.8"])
def test_a_public_address_may_be_connected_to(address: str) -> None:
    assert address_problem(address) is None


@pytest.mark.parametrize(("address", "problem"), [
    ("127.0.0.1", "a loopback address"),
    ("127.8.9.10", "a loopback address"),
    ("::1", "a loopback address"),
    ("::ffff:127.0.0.1", "a loopback address"),
    ("169.254.169.254", "not a unicast address one may send to"),  # cloud metadata
    ("fe80::1", "not a unicast address one may send to"),
    ("0.0.0.0", "not a unicast address one may send to"),
    ("224.0.0.1", "not a unicast address one may send to"),
    ("240.0.0.1", "not a unicast address one may send to"),
    ("10.0.0.7", "a private address"),
    ("172.16.0.1", "a private address"),
    ("192.168.1.1", "a private address"),
    ("100.64.0.1", "a private address"),  # carrier-grade NAT
    ("fd00::1", "a private address"),
    ("::ffff:10.0.0.7", "a private address"),
])
def test_an_address_inside_a_network_is_refused(address: str, problem: str) -> None:
    assert address_problem(address) == problem


def test_loopback_and_private_networks_only_where_allowed() -> None:
    assert address_problem("127.0.0.1", allow_loopback=True) is None
    assert address_problem("10.0.0.7", allow_private=True) is None
    assert address_problem("10.0.0.7", allow_loopback=True) == "a private address"
    assert address_problem("127.0.0.1", allow_private=True) == "a loopback address"
    assert address_problem("169.254.169.254", allow_loopback=True, allow_private=True) is not None


class RecordingBackend(httpcore.AsyncMockBackend):
    def __init__(self) -> None:
        super().__init__([])
        self.hosts: list[str] = []

    async def connect_tcp(self, host: str, port: int, *args: Any,
                          **kwargs: Any) -> httpcore.AsyncNetworkStream:
        self.hosts.append(host)
        return await super().connect_tcp(host, port, *args, **kwargs)


def test_a_name_is_connected_to_at_the_address_that_was_checked() -> None:
    inner = RecordingBackend()
    backend = PublicNetworkOnly(allow_loopback=True, inner=inner)

    asyncio.run(asyncio.wait_for(backend.connect_tcp("localhost", 443, timeout=2), 5))

    assert inner.hosts and inner.hosts[0] in ("127.0.0.1", "::1")


def test_a_name_that_resolves_inside_the_network_is_refused_before_connecting() -> None:
    inner = RecordingBackend()
    backend = PublicNetworkOnly(inner=inner)

    with pytest.raises(NonPublicAddress, match="loopback"):
        asyncio.run(asyncio.wait_for(backend.connect_tcp("localhost", 443, timeout=2), 5))
    assert inner.hosts == []
