"""People who use Parley: registration with a unique handle."""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from domain.events import Cause, ParleyAggregate

USER_ID_NAMESPACE = UUID("0d9d7c1e-2a4f-4c1b-8f0a-6a2f7c9b5e31")
HANDLE_PATTERN = re.compile(r"^[a-z0-9_]{3,32}$")
MAX_NAME_LENGTH = 80


def normalise_handle(handle: str) -> str:
    """Handles compare case-insensitively; a handle is 3-32 of a-z, 0-9 and '_'."""
    normalised = handle.strip().lower()
    if not HANDLE_PATTERN.fullmatch(normalised):
        raise InvalidCommand("handle", "a handle is 3 to 32 characters of a-z, 0-9 and '_'")
    return normalised


def user_id_for_handle(handle: str) -> UUID:
    """One user per handle: the id is derived from it, so a second claim conflicts."""
    return uuid5(USER_ID_NAMESPACE, normalise_handle(handle))


def clean_name(name: str) -> str:
    stripped = " ".join(name.split())
    if not stripped or len(stripped) > MAX_NAME_LENGTH:
        raise InvalidCommand("name", f"a name is 1 to {MAX_NAME_LENGTH} characters")
    if any(not ch.isprintable() for ch in stripped):
        raise InvalidCommand("name", "a name may not contain control characters")
    return stripped


class User(ParleyAggregate):
    """A registered person."""

    def __init__(self, handle: str, name: str) -> None:
        self.handle = handle
        self.name = name

    class Registered(ParleyAggregate.Created):
        handle: str
        name: str

    @classmethod
    def register(cls, handle: str, name: str, cause: Cause) -> User:
        normalised = normalise_handle(handle)
        return cls._create(
            cls.Registered,
            id=user_id_for_handle(normalised),
            handle=normalised,
            name=clean_name(name),
            **cause.as_event_fields(),
        )
