"""Connections to the public internet only, for URLs that Parley's users chose.

A webhook endpoint (or a Web Push endpoint) is a URL someone registered. Sent to blindly, it
reaches whatever the sending host can reach: the cloud's metadata service, a database port,
an admin page on localhost (server-side request forgery). `PublicNetworkOnly` is an httpcore
network backend that resolves the host itself, refuses when any of its addresses is not a
public one, and connects to an address it checked, so a name re-pointed between the check and
the connection (DNS rebinding) gains nothing. TLS still verifies the certificate against the
URL's host name: httpcore passes that, not the address, as the server name.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Iterable

import anyio
import httpcore

# httpcore's own SOCKET_OPTION, which it does not export
SocketOption = (tuple[int, int, int] | tuple[int, int, bytes | bytearray]
                | tuple[int, int, None, int])


class NonPublicAddress(httpcore.ConnectError):
    """The host resolves to an address outside the public internet; nothing was sent."""


def address_problem(address: str, *, allow_loopback: bool = False,
                    allow_private: bool = False) -> str | None:
    """Why Parley will not connect to `address` (an IP address), or None if it will."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip.is_loopback:
        return None if allow_loopback else "a loopback address"
    if ip.is_multicast or ip.is_unspecified or ip.is_link_local or ip.is_reserved:
        return "not a unicast address one may send to"
    if not ip.is_global:
        return None if allow_private else "a private address"
    return None


class PublicNetworkOnly(httpcore.AsyncNetworkBackend):
    """Connects only to public addresses (and loopback or private ones where allowed)."""

    def __init__(self, *, allow_loopback: bool = False, allow_private: bool = False,
                 inner: httpcore.AsyncNetworkBackend | None = None) -> None:
        self._allow_loopback = allow_loopback
        self._allow_private = allow_private
        self._inner = inner or httpcore.AnyIOBackend()

    async def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                          local_address: str | None = None,
                          socket_options: Iterable[SocketOption] | None = None,
                          ) -> httpcore.AsyncNetworkStream:
        addresses = await _resolved(host, port, timeout)
        for address in addresses:
            problem = address_problem(address, allow_loopback=self._allow_loopback,
                                      allow_private=self._allow_private)
            if problem is not None:
                raise NonPublicAddress(f"the endpoint's host resolves to {problem}")
        failure: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address,
                                                     socket_options)
            except httpcore.ConnectError as error:
                failure = error
        assert failure is not None
        raise failure

    async def connect_unix_socket(self, path: str, timeout: float | None = None,
                                  socket_options: Iterable[SocketOption] | None = None,
                                  ) -> httpcore.AsyncNetworkStream:
        raise NonPublicAddress("a Unix socket is not on the public network")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


async def _resolved(host: str, port: int, timeout: float | None) -> list[str]:
    """The host's addresses (itself, if it is one), each once, in the resolver's order."""
    try:
        return [str(ipaddress.ip_address(host))]
    except ValueError:
        pass
    try:
        with anyio.fail_after(timeout):
            infos = await anyio.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except TimeoutError as error:
        raise httpcore.ConnectTimeout("the endpoint's host did not resolve in time") from error
    except OSError as error:
        raise httpcore.ConnectError("the endpoint's host does not resolve") from error
    return list(dict.fromkeys(str(info[4][0]) for info in infos))
