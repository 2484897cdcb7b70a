"""API keys: how services (not people) call Parley, each key limited to its scopes.

A caller presents `pk_<key_id>_<secret>`: `key_id` is 16 hex digits (the key's public name,
and where its aggregate is found), `secret` 32 random bytes in base64url. The key is shown
once, when it is made; the log keeps only `secret_digest`, a plain SHA-256 of the presented
key. Plain rather than keyed (HMAC with a key derived from PARLEY_SECRET_KEY), because the
secret is 256 random bits: no guess or precomputed table finds a preimage, so a key would
add no strength, only a dependency: rotating the signing key would silently disable every
service's API key, and the operator's shell would need the server's secret to make one. The
same reasoning as refresh tokens (commands/identity/accounts.py). The digest is no credential
either (the server hashes what is presented), which is why `Issued` may be relayed for the
listing read model; the projector never copies it and the audit view redacts it.

Scopes are a closed set, defined here and nowhere else; a key names at least one of them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import InvalidCommand
from domain.text import DisplayName
from event_log.aggregate import Cause, ParleyAggregate, copied

API_KEY_NAMESPACE = UUID("0c6f4b8e-2d7a-4e91-b3f5-6a1d9c27e840")
KEY_PREFIX = "pk_"
KEY_ID = re.compile(r"[0-9a-f]{16}")
SECRET = re.compile(r"[A-Za-z0-9_-]{43}")  # 32 bytes, base64url without padding
DIGEST = re.compile(r"[0-9a-f]{64}")

NOTIFICATIONS_TRIGGER = "notifications:trigger"
NOTIFICATIONS_READ = "notifications:read"
NOTIFICATIONS_ADMIN = "notifications:admin"
SCOPES = (NOTIFICATIONS_TRIGGER, NOTIFICATIONS_READ, NOTIFICATIONS_ADMIN)
KEY_NAME = DisplayName("key name", "name", 64)


class UnknownScope(InvalidCommand):
    """Only the scopes Parley defines can be granted to a key."""


@dataclass(frozen=True)
class PresentedKey:
    """What a caller sent, split: the key's id and its secret (never shown in a repr)."""

    key_id: str
    secret: str = field(repr=False)

    @property
    def digest(self) -> str:
        return key_digest(self.key_id, self.secret)


def presented_key(text: str) -> PresentedKey | None:
    """The parts of `pk_<key_id>_<secret>`, or None for anything else."""
    if not text.startswith(KEY_PREFIX):
        return None
    key_id, _, secret = text[len(KEY_PREFIX):].partition("_")
    if not (KEY_ID.fullmatch(key_id) and SECRET.fullmatch(secret)):
        return None
    return PresentedKey(key_id, secret)


def presented_text(key_id: str, secret: str) -> str:
    return f"{KEY_PREFIX}{key_id}_{secret}"


def key_digest(key_id: str, secret: str) -> str:
    """SHA-256 of the whole presented key, so the digest also binds the secret to its id."""
    return hashlib.sha256(presented_text(key_id, secret).encode("ascii")).hexdigest()


def api_key_id(key_id: str) -> UUID:
    """The aggregate of a key, found from the id the caller presents."""
    return uuid5(API_KEY_NAMESPACE, key_id)


def known_scopes(scopes: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The scopes, each one Parley defines, without repeats, in a stable order."""
    chosen = {scope.strip().lower() for scope in scopes}
    unknown = sorted(chosen - set(SCOPES))
    if unknown:
        raise UnknownScope("scopes", f"unknown scope {unknown[0]!r}: a scope is one of "
                                     f"{', '.join(SCOPES)}")
    if not chosen:
        raise InvalidCommand("scopes", "a key needs at least one scope")
    return tuple(scope for scope in SCOPES if scope in chosen)


class ApiKey(ParleyAggregate):
    """One service's key: its name and scopes, the digest of its secret, whether revoked."""

    def __init__(self, key_id: str, name: str, scopes: tuple[str, ...], secret_digest: str,
                 issued_at: datetime, issued_by: str | None) -> None:
        self.key_id = key_id
        self.name = name
        self.scopes = tuple(scopes)  # the log gives a list back
        self.secret_digest = secret_digest
        self.issued_at = issued_at
        self.issued_by = issued_by
        self.revoked_at: datetime | None = None

    class Issued(ParleyAggregate.Created):
        key_id: str
        name: str
        scopes: tuple[str, ...]
        secret_digest: str
        issued_at: datetime
        issued_by: str | None

    class Revoked(ParleyAggregate.Event):
        revoked_at: datetime
        copies = copied("revoked_at")

    @classmethod
    def issue(cls, key_id: str, name: str, scopes: tuple[str, ...] | list[str],
              secret_digest: str, issued_at: datetime, issued_by: str | None,
              cause: Cause) -> ApiKey:
        if not KEY_ID.fullmatch(key_id):
            raise InvalidCommand("key_id", "a key id is 16 lower-case hex digits")
        if not DIGEST.fullmatch(secret_digest):
            raise InvalidCommand("secret_digest", "a digest is 64 lower-case hex digits")
        return cls._create(cls.Issued, id=api_key_id(key_id), key_id=key_id,
                           name=KEY_NAME.clean(name), scopes=known_scopes(scopes),
                           secret_digest=secret_digest, issued_at=issued_at,
                           issued_by=issued_by, **cause.as_event_fields())

    def __repr__(self) -> str:  # without the digest: whatever logs a caller never logs it
        return (f"ApiKey(key_id={self.key_id!r}, name={self.name!r}, scopes={self.scopes!r}, "
                f"revoked_at={self.revoked_at!r})")

    @property
    def live(self) -> bool:
        return self.revoked_at is None

    def revoke(self, now: datetime, cause: Cause) -> bool:
        """Returns False (and records nothing) if the key was revoked already."""
        if not self.live:
            return False
        self.trigger_event(self.Revoked, revoked_at=now, **cause.as_event_fields())
        return True

    def admits(self, presented: PresentedKey) -> bool:
        """Whether `presented` is this live key (the digests compared in constant time)."""
        matches = hmac.compare_digest(presented.digest, self.secret_digest)
        return matches and presented.key_id == self.key_id and self.live

