"""What an auditor sees of the log: entries, states and diffs as plain JSON, secrets redacted.

Pure functions over domain events and aggregates; reading the log is
`commands/audit/queries.py`'s job.
"""

from __future__ import annotations

import dataclasses
import enum
import importlib
import json
import pkgutil
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.utils import get_topic

import domain
from event_log.aggregate import ParleyAggregate

# Fields that hold secrets (domain/identity/accounts.py: the password hash, refresh-token digests,
# the digests a grant rotated out; domain/identity/api_keys.py: an API key's secret digest;
# domain/notifications/webhook_secrets.py: webhook signing secrets, also in ContactPoints' keys):
# shown as REDACTED wherever they appear, in event payloads and in aggregate states.
SECRET_FIELDS = frozenset({"password_hash", "token_digest", "refresh_digest", "spent_digests",
                           "secret_digest", "secret", "previous_secret"})
REDACTED = "[redacted]"
# Shown as columns of an entry, not repeated in its payload.
METADATA_FIELDS = frozenset({
    "originator_id", "originator_version", "timestamp", "originator_topic",
    "actor_id", "correlation_id", "causation_id",
})

# The library gives every aggregate class these two base classes; no event is only that.
LIBRARY_BASE_EVENTS = frozenset({"Event", "Created"})
Json = Any


@dataclass(frozen=True)
class LoggedEvent:
    """A domain event and its position in the log."""

    position: int
    event: Any


@dataclass(frozen=True)
class AuditEntry:
    """One event as an auditor sees it; `state` is the aggregate right after it, if asked for."""

    position: int
    aggregate_id: UUID
    aggregate_type: str
    version: int
    type: str
    time: datetime
    actor_id: UUID | None
    correlation_id: UUID | None
    causation_id: UUID | None
    payload: dict[str, Json]
    state: dict[str, Json] | None = None

    def as_json(self) -> dict[str, Json]:
        body: dict[str, Json] = plain(dataclasses.asdict(self))
        if self.state is None:
            del body["state"]
        return body


@dataclass(frozen=True)
class FieldChange:
    """One field that differs between two states; `path` walks into nested objects."""

    path: str
    before: Json
    after: Json


def plain(value: Any) -> Json:
    """JSON-ready: ids and times as strings, sets sorted, tuples and dataclasses unpacked."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, dict):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=lambda v: json.dumps(v, sort_keys=True))
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def redacted(value: Json) -> Json:
    """A copy of plain JSON in which every secret field's value is replaced by REDACTED."""
    if isinstance(value, dict):
        return {k: REDACTED if k in SECRET_FIELDS else redacted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [redacted(v) for v in value]
    return value


def event_type(event: Any) -> str:
    """`User.Registered`: the aggregate and the event, as the domain names them."""
    return str(type(event).__qualname__)


def aggregate_type(event: Any) -> str:
    return event_type(event).rsplit(".", 1)[0]


def payload_of(event: Any) -> dict[str, Json]:
    fields = {k: v for k, v in vars(event).items() if k not in METADATA_FIELDS}
    payload: dict[str, Json] = redacted(plain(fields))
    return payload


def state_of(aggregate: Any) -> dict[str, Json]:
    """An aggregate's own fields (not the library's bookkeeping), secrets redacted."""
    fields = {k: v for k, v in vars(aggregate).items() if not k.startswith("_")}
    state: dict[str, Json] = redacted(plain(fields))
    return state


def entry_of(logged: LoggedEvent, state: dict[str, Json] | None = None) -> AuditEntry:
    event = logged.event
    return AuditEntry(
        position=logged.position,
        aggregate_id=event.originator_id,
        aggregate_type=aggregate_type(event),
        version=event.originator_version,
        type=event_type(event),
        time=event.timestamp,
        actor_id=getattr(event, "actor_id", None),
        correlation_id=getattr(event, "correlation_id", None),
        causation_id=getattr(event, "causation_id", None),
        payload=payload_of(event),
        state=state,
    )


def diff_states(before: dict[str, Json], after: dict[str, Json],
                prefix: str = "") -> list[FieldChange]:
    """Field-level differences, walking into nested objects; lists compare as whole values.

    A field absent on one side is None there (a field that exists and holds None looks the
    same, which is what an auditor reading the two states sees too).
    """
    changes: list[FieldChange] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        path = f"{prefix}{key}"
        if isinstance(old, dict) and isinstance(new, dict):
            changes.extend(diff_states(old, new, f"{path}."))
        elif old != new:
            changes.append(FieldChange(path, old, new))
    return changes


def event_topics() -> dict[str, str]:
    """Every Parley event type by its name (`User.Registered`), with its stored topic."""
    for module in pkgutil.walk_packages(domain.__path__, "domain."):
        importlib.import_module(module.name)
    importlib.import_module("event_log.idempotency")
    topics: dict[str, str] = {}
    for aggregate in _subclasses(ParleyAggregate):
        for attribute in vars(aggregate).values():
            if (isinstance(attribute, type) and issubclass(attribute, ParleyAggregate.Event)
                    and attribute.__name__ not in LIBRARY_BASE_EVENTS
                    and attribute.__qualname__.startswith(aggregate.__qualname__ + ".")):
                topics[attribute.__qualname__] = get_topic(attribute)
    return topics


def _subclasses(cls: type) -> Iterable[type]:
    subclass: type
    for subclass in cls.__subclasses__():
        yield subclass
        yield from _subclasses(subclass)
