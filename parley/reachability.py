"""One clear line when a configured service cannot be reached, naming the variable."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit, urlunsplit


class Unreachable(Exception):
    """A configured service did not answer."""


def redact(url: str) -> str:
    """The address without its password, fit for logs and error lines."""
    parts = urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urlunsplit(parts._replace(netloc=netloc))
    return url


def host_port(address: str, default_port: int) -> tuple[str, int]:
    if "://" in address:
        parts = urlsplit(address)
        return parts.hostname or "127.0.0.1", parts.port or default_port
    host, _, port = address.rpartition(":")
    return (host or "127.0.0.1"), int(port) if port.isdigit() else default_port


def require_reachable(variable: str, address: str, default_port: int, timeout: float = 3.0) -> None:
    host, port = host_port(address.split(",")[0], default_port)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as error:
        reason = error.strerror or type(error).__name__
        raise Unreachable(f"{variable}={redact(address)} is unreachable ({reason}); "
                          "start the services with 'parley services up'") from error
