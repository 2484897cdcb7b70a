"""Commands about API keys (issue, revoke, from the operator's shell), and the two reads of
them the log answers itself: which key a caller presented, and every key issued."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from eventsourcing.application import AggregateNotFoundError, Repository

from domain.errors import NotFound
from domain.identity.api_key_roster import (
    API_KEY_ROSTER_ID,
    DEFAULT_MAX_API_KEYS,
    ApiKeyRoster,
)
from domain.identity.api_keys import (
    SCOPES,
    ApiKey,
    PresentedKey,
    api_key_id,
    key_digest,
    presented_key,
    presented_text,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler

SECRET_BYTES = 32


class ApiKeyNotFound(NotFound):
    """No key was ever issued with this id."""


@dataclass(frozen=True)
class NewApiKey:
    """A key just made: its id and secret, to show once and then forget."""

    key_id: str
    secret: str = field(repr=False)

    @property
    def presented(self) -> str:
        """What the service sends: `pk_<key_id>_<secret>`."""
        return presented_text(self.key_id, self.secret)

    @property
    def digest(self) -> str:
        return key_digest(self.key_id, self.secret)


def new_api_key() -> NewApiKey:
    """A fresh key: 64 random bits of id, 256 of secret (base64url, no padding)."""
    secret = base64.urlsafe_b64encode(secrets.token_bytes(SECRET_BYTES)).rstrip(b"=")
    return NewApiKey(secrets.token_hex(8), secret.decode("ascii"))


@dataclass(frozen=True)
class IssueApiKey:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    secret_digest: str = field(repr=False)
    issued_at: datetime
    issued_by: str | None = None
    max_live: int = DEFAULT_MAX_API_KEYS


@dataclass(frozen=True)
class RevokeApiKey:
    key_id: str
    revoked_at: datetime


@dataclass(frozen=True)
class ApiKeyIssued:
    key_id: str
    name: str
    scopes: tuple[str, ...]
    issued_at: datetime


@dataclass(frozen=True)
class ApiKeyRevoked:
    """`changed`: False when the key had been revoked already."""

    key_id: str
    name: str
    changed: bool


@dataclass(frozen=True)
class ApiKeySummary:
    """A key as it is listed: never its secret, nor the secret's digest."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    issued_at: datetime
    issued_by: str | None
    revoked_at: datetime | None


def issue_api_key(batch: Batch, command: IssueApiKey, cause: Cause) -> ApiKeyIssued:
    roster = batch.find(ApiKeyRoster, API_KEY_ROSTER_ID)
    if roster is None:
        roster = ApiKeyRoster.start(cause)
        batch.add(roster)
    key = ApiKey.issue(command.key_id, command.name, command.scopes, command.secret_digest,
                       command.issued_at, command.issued_by, cause)
    roster.admit(key.key_id, command.max_live, cause)
    batch.add(key)
    return ApiKeyIssued(key.key_id, key.name, key.scopes, key.issued_at)


def revoke_api_key(batch: Batch, command: RevokeApiKey, cause: Cause) -> ApiKeyRevoked:
    key = batch.find(ApiKey, api_key_id(command.key_id.strip().lower()))
    roster = batch.find(ApiKeyRoster, API_KEY_ROSTER_ID)
    if key is None or roster is None:
        raise ApiKeyNotFound("key_id", "no API key has this id")
    changed = key.revoke(command.revoked_at, cause)
    roster.retire(key.key_id, cause)
    return ApiKeyRevoked(key.key_id, key.name, changed)


def presented_api_key(repository: Repository, text: str) -> ApiKey | None:  # type: ignore[type-arg]
    """The live key `text` presents, read from the log itself; None for anything else.

    The repository's cached aggregate is fast-forwarded with newer events on each read, so a
    key works as soon as it is issued and stops as soon as it is revoked, in every process.
    """
    presented: PresentedKey | None = presented_key(text)
    if presented is None:
        return None
    try:
        key: object = repository.get(api_key_id(presented.key_id))
    except AggregateNotFoundError:
        return None
    return key if isinstance(key, ApiKey) and key.admits(presented) else None


class LoggedApiKeys:
    """The keys requests are checked against: the event log's (api.http's `ServiceKeys`)."""

    scopes = frozenset(SCOPES)

    def __init__(self, repository: Repository) -> None:  # type: ignore[type-arg]
        self._repository = repository

    def presented(self, text: str) -> ApiKey | None:
        return presented_api_key(self._repository, text)


def issued_api_keys(repository: Repository) -> Sequence[ApiKeySummary]:  # type: ignore[type-arg]
    """Every key ever issued, oldest first, from the log (exact the moment a key is issued)."""
    try:
        roster: object = repository.get(API_KEY_ROSTER_ID)
    except AggregateNotFoundError:
        return []
    assert isinstance(roster, ApiKeyRoster)
    summaries = []
    for key_id in roster.issued:
        key: object = repository.get(api_key_id(key_id))
        assert isinstance(key, ApiKey)
        summaries.append(ApiKeySummary(key.key_id, key.name, key.scopes, key.issued_at,
                                       key.issued_by, key.revoked_at))
    return summaries


API_KEY_HANDLERS: dict[type, Handler] = {
    IssueApiKey: issue_api_key,
    RevokeApiKey: revoke_api_key,
}
