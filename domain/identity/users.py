"""People who use Parley: registration with a unique handle, and their public profile."""

from __future__ import annotations

import re
from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from domain.identity.errors import ReservedHandle
from domain.text import DisplayName, clean_reference
from event_log.aggregate import Cause, ParleyAggregate, copied

USER_ID_NAMESPACE = UUID("0d9d7c1e-2a4f-4c1b-8f0a-6a2f7c9b5e31")
HANDLE_PATTERN = re.compile(r"^[a-z0-9_]{3,32}$")
MAX_NAME_LENGTH = 80
NAME = DisplayName("name", "name", MAX_NAME_LENGTH)
MAX_AVATAR_LENGTH = 256

# Who sees a person's presence (online now, last seen), among the people who share a
# conversation with them; strangers never do. `everyone` by default, as in most messengers.
EVERYONE, CONTACTS, NOBODY = "everyone", "contacts", "nobody"
PRESENCE_AUDIENCES = (EVERYONE, CONTACTS, NOBODY)

# Handles that would pass for Parley's own people or for the system itself. A handle is
# reserved when it is one of these once underscores and digits are dropped (`admin_1`,
# `s_u_p_p_o_r_t`), or when any of its words is a staff word (`parley_help`, `ada_admin`).
RESERVED_HANDLES = frozenset({
    "admin", "administrator", "support", "security", "parley", "root", "moderator", "mod",
    "staff", "help", "helpdesk", "official", "system", "sysadmin", "abuse", "postmaster",
    "webmaster", "hostmaster", "noreply", "info", "team", "service", "bot", "api", "www",
    "everyone", "here", "all", "channel", "null", "undefined", "anonymous", "unknown",
    "owner", "operator", "auditor", "trust", "safety", "verified", "billing", "legal",
})
STAFF_WORDS = frozenset({"admin", "administrator", "support", "security", "parley",
                         "moderator", "staff", "official", "sysadmin", "verified"})


def normalise_handle(handle: str) -> str:
    """Handles compare case-insensitively; a handle is 3-32 of a-z, 0-9 and '_'."""
    normalised = handle.strip().lower()
    if not HANDLE_PATTERN.fullmatch(normalised):
        raise InvalidCommand("handle", "a handle is 3 to 32 characters of a-z, 0-9 and '_'")
    return normalised


def is_reserved_handle(handle: str) -> bool:
    """Whether a (normalised) handle is kept from registration: see `RESERVED_HANDLES`."""
    words = [word.strip("0123456789") for word in handle.split("_")]
    squashed = "".join(ch for ch in handle if ch.isalpha())
    return squashed in RESERVED_HANDLES or any(word in STAFF_WORDS for word in words)


def user_id_for_handle(handle: str) -> UUID:
    """One user per handle: the id is derived from it, so a second claim conflicts."""
    return uuid5(USER_ID_NAMESPACE, normalise_handle(handle))


def clean_avatar(avatar: str | None) -> str | None:
    """An avatar is an opaque reference (e.g. a blob-store key) or an http(s) URL, 1 to 256
    printable characters; None clears it."""
    if avatar is None:
        return None
    if not 1 <= len(avatar) <= MAX_AVATAR_LENGTH:
        raise InvalidCommand("avatar",
                             f"an avatar reference is 1 to {MAX_AVATAR_LENGTH} characters")
    return clean_reference(avatar, "avatar", "avatar reference")


def clean_presence_audience(audience: str) -> str:
    if audience not in PRESENCE_AUDIENCES:
        raise InvalidCommand("presence", "presence is visible to everyone, contacts or nobody")
    return audience


class User(ParleyAggregate):
    """A registered person."""

    def __init__(self, handle: str, name: str) -> None:
        self.handle = handle
        self.name = name
        self.avatar: str | None = None
        self.presence_visible_to = EVERYONE

    class Registered(ParleyAggregate.Created):
        handle: str
        name: str

    class ProfileChanged(ParleyAggregate.Event):
        name: str
        avatar: str | None
        copies = copied("name", "avatar")

    class PresenceVisibilityChanged(ParleyAggregate.Event):
        visible_to: str
        copies = copied(presence_visible_to="visible_to")

    @classmethod
    def register(cls, handle: str, name: str, cause: Cause) -> User:
        normalised = normalise_handle(handle)
        if is_reserved_handle(normalised):
            raise ReservedHandle("handle", "this handle is reserved; choose another")
        return cls._create(
            cls.Registered,
            id=user_id_for_handle(normalised),
            handle=normalised,
            name=NAME.clean(name),
            **cause.as_event_fields(),
        )

    def change_profile(self, name: str, avatar: str | None, cause: Cause) -> bool:
        """Set the display name and avatar; returns False (and records nothing) if unchanged."""
        name, avatar = NAME.clean(name), clean_avatar(avatar)
        if (name, avatar) == (self.name, self.avatar):
            return False
        self.trigger_event(self.ProfileChanged, name=name, avatar=avatar,
                           **cause.as_event_fields())
        return True

    def show_presence_to(self, audience: str, cause: Cause) -> bool:
        """Choose who sees when one is online; returns False (and records nothing) if unchanged."""
        audience = clean_presence_audience(audience)
        if audience == self.presence_visible_to:
            return False
        self.trigger_event(self.PresenceVisibilityChanged, visible_to=audience,
                           **cause.as_event_fields())
        return True
