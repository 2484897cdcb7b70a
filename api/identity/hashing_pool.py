"""Identity's port for password hashing on a bounded pool of its own (the adapter is
adapters/identity/password_hashing.py; the composition root builds it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from commands.identity.accounts import Passwords

T = TypeVar("T")


class HashingPool(Protocol):
    """The password KDF on a bounded pool of its own: beyond its capacity a caller is refused
    at once (a `Saturated` error, answered 503 with Retry-After)."""

    @property
    def passwords(self) -> Passwords: ...

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(*args)` on a hashing thread."""
        ...

    async def hash(self, password: str) -> str: ...
