"""One HTTP request to a provider, bounded in time, whose transport failures are answers.

httpx's timeouts bound each phase (connect, each read, each write), so a server that trickles
bytes could hold a send for ever; `bounded` adds one deadline over the whole exchange, and
`within` one over a whole send. A
timeout answers `timeout`, a refused, reset or dropped connection `connection`: both may work
later, so both are retryable.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable
from typing import Any

import httpx

from commands.notifications.providers import ProviderAnswer, retry_after

TIMED_OUT = "timeout"
CONNECTION_FAILED = "connection"


async def bounded(client: httpx.AsyncClient, method: str, url: str, *, seconds: float,
                  **request: Any) -> httpx.Response | ProviderAnswer:
    """The response, or the retryable answer for a timeout or a failed connection."""
    try:
        async with asyncio.timeout(seconds):
            return await client.request(method, url, **request)
    except (TimeoutError, httpx.TimeoutException):
        return ProviderAnswer.failed(TIMED_OUT, retryable=True,
                                     detail=f"no answer within {seconds:g} s")
    except httpx.TransportError as error:
        # the exception's text names the failure (refused, reset), never the request's content
        return ProviderAnswer.failed(CONNECTION_FAILED, retryable=True,
                                     detail=type(error).__name__)


async def within(seconds: float, sending: Awaitable[ProviderAnswer]) -> ProviderAnswer:
    """`sending`'s answer, or `timeout` if it takes more than `seconds` in all (a send that
    exchanges a token and posts, perhaps twice, still answers within its provider's timeout)."""
    try:
        async with asyncio.timeout(seconds):
            return await sending
    except TimeoutError:
        return ProviderAnswer.failed(TIMED_OUT, retryable=True,
                                     detail=f"no answer within {seconds:g} s")


def retryable(code: str, response: httpx.Response, detail: str = "") -> ProviderAnswer:
    """A refusal that may work later, with the delay the service asked for, if it did."""
    return ProviderAnswer.failed(code, retryable=True, detail=detail,
                                 retry_after_seconds=retry_after(response.headers.get("retry-after")))


def client_tls(ca_file: str | None) -> ssl.SSLContext | bool:
    """The system's trust store, or (tests) only the CA of a local stand-in."""
    return ssl.create_default_context(cafile=ca_file) if ca_file else True
