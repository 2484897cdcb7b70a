"""Rules for URLs Parley will send to on someone's behalf (webhook endpoints, Web Push
endpoints), and the signing secrets of webhook endpoints."""

from __future__ import annotations

import base64
import ipaddress
import secrets
from urllib.parse import urlsplit

MAX_URL_LENGTH = 2048
SECRET_PREFIX = "whsec_"  # the Standard Webhooks spelling of a base64 signing secret
SECRET_BYTES = 32


def endpoint_url_problem(url: str, *, allow_loopback_http: bool = False) -> str | None:
    """Why Parley will not send to `url`, or None if it will.

    Only https:// with a host name and no user name or password in it; plain http:// only to
    127.0.0.1 and only where the deployment allows it (tests run their receivers there).
    """
    if len(url) > MAX_URL_LENGTH:
        return f"must be at most {MAX_URL_LENGTH} characters"
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - reading it refuses a port that is not a number in range
    except ValueError:
        return "is not a valid URL"
    if parts.username is not None or parts.password is not None:
        return "must not carry a user name or password"
    host = parts.hostname or ""
    if not host:
        return "must name a host"
    if parts.fragment:
        return "must not have a fragment"
    if parts.scheme == "https":
        return None
    if parts.scheme == "http" and allow_loopback_http and _is_loopback_v4(host):
        return None
    return "must be an https:// URL"


def _is_loopback_v4(host: str) -> bool:
    try:
        return ipaddress.ip_address(host) == ipaddress.ip_address("127.0.0.1")
    except ValueError:
        return False


def new_signing_secret() -> str:
    """A fresh webhook signing secret: `whsec_` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()
