"""The fields of a provider entry (PARLEY_NOTIFICATION_PROVIDERS), each checked on its own.

A bad field raises a ValueError naming the key and what it must be, never its value (it may
be a secret).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.notifications.registry import ProviderEnvironment
from domain.notifications.endpoints import endpoint_url_problem


def text(entry: Mapping[str, Any], key: str, default: str | None = None) -> str:
    """A required (or defaulted) non-empty string."""
    value = entry.get(key, default)
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{key} must be a non-empty string")
    return value


def positive_seconds(entry: Mapping[str, Any], key: str, default: float) -> float:
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ValueError(f"{key} must be a positive number of seconds")
    return float(value)


def endpoint(entry: Mapping[str, Any], key: str, default: str,
             environment: ProviderEnvironment) -> str:
    """A service's base URL: https://, or http://127.0.0.1 where the deployment allows it."""
    return allowed_url(text(entry, key, default).rstrip("/"), key, environment)


def allowed_url(url: str, key: str, environment: ProviderEnvironment) -> str:
    problem = endpoint_url_problem(url, allow_loopback_http=environment.allow_loopback_http)
    if problem is not None:
        raise ValueError(f"{key} {problem}")
    return url


def existing_file(entry: Mapping[str, Any], key: str) -> str | None:
    """An optional path that must name a readable file."""
    if entry.get(key) is None:
        return None
    path = text(entry, key)
    if not Path(path).is_file():
        raise ValueError(f"{key} must name an existing file")
    return path


def inline_or_file(entry: Mapping[str, Any], key: str) -> str:
    """A secret given inline under `key` or read from the file named by `key_file`."""
    inline, from_file = entry.get(key), f"{key}_file"
    if (inline is None) == (entry.get(from_file) is None):
        raise ValueError(f"exactly one of {key} and {from_file} must be given")
    if inline is not None:
        return text(entry, key)
    path = existing_file(entry, from_file)
    assert path is not None
    return Path(path).read_text()
