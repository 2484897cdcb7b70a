"""What each event of a notification says in its decision trace, for one audience.

Pure: an event (and, for a dispatch, the providers' breakers as the log recorded them then) in,
`TraceStep`s out. Events this module names get a sentence of their own; any other event of the
notification (a step added later: a throttle, a digest, a template...) is rendered generically,
by its name and fields, so it appears in traces without a change here.

What an audience never sees, wherever it sits in an event: content (bodies, data, links: the
recipient alone sees the title of their own notification), addresses and secrets. A service
(the API key that triggered it) also never sees a decision step's `inputs`, which are the
recipient's own settings (their preferences, time zone, quiet hours, addresses they have),
except those of the steps about what it asked itself (dedup, send_at, digest).
"""

from __future__ import annotations

import dataclasses
import enum
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any, Final, Protocol
from uuid import UUID

from domain.notifications.channels import CHANNELS

RECIPIENT: Final = "recipient"  # their own notification
ADMIN: Final = "admin"  # an operator's admin: any notification, no content
SERVICE: Final = "service"  # the API key that triggered it: no content, no recipient settings
AUDIENCES: Final = (RECIPIENT, ADMIN, SERVICE)

# Content: what the notification says. Only its title, and only to its recipient.
CONTENT_FIELDS: Final = frozenset({
    "title", "body", "data", "deep_link", "link", "text", "html", "subject", "preview",
    "lines", "first_lines", "content", "variables", "template_variables", "rendered"})
# Addresses and secrets: never, to anyone (the trace names contact points by id).
HIDDEN_FIELDS: Final = frozenset({
    "address", "email", "phone", "phone_number", "number", "to", "device_token", "endpoint",
    "url", "token", "secret", "previous_secret", "password", "password_hash", "token_digest",
    "secret_digest", "signature", "p256dh", "auth"})
# "email" is both an address field and a channel's name: a channel's record (its preference
# rule, say) is a mapping and stays; an address under that name is a string and goes.
CHANNEL_RECORDS: Final = frozenset(CHANNELS)
# An email address is hidden by its shape too, whatever field or list holds it (a Message-ID,
# <key@domain>, is not one).
ADDRESS_SHAPE: Final = re.compile(r"[^\s@<>]+@[^\s@<>]+\.[^\s@<>]+")
RECIPIENT_SETTINGS: Final = "inputs"  # a decision step's inputs: hidden from services...
# ... but for the steps that look only at what the service itself asked (its dedup key and
# the notification it kept, its send_at, the digest it asked for)
SERVICE_INPUT_STEPS: Final = frozenset({"dedup", "send_at", "digest"})
METADATA_FIELDS: Final = frozenset({
    "originator_id", "originator_version", "timestamp", "originator_topic",
    "actor_id", "correlation_id", "causation_id"})
Json = Any


@dataclass(frozen=True)
class TraceStep:
    """One step of a notification's life: when, which event said it, what it was (`step`),
    what came of it in words (`outcome`) and the facts behind it (`details`)."""

    at: datetime
    version: int
    event: str  # e.g. "Notification.Failed"
    step: str  # request, decision, routing, hold, queue, dispatch, answer, retry, fallback...
    outcome: str
    details: dict[str, Json]
    caused_by: UUID | None = None  # the event or command that caused it (a read receipt...)
    name: str | None = None  # a decision step's name (preferences, quiet_hours...)


class Breakers(Protocol):
    """Providers' breakers as the log recorded them."""

    def at(self, provider: str, moment: datetime) -> dict[str, Json]:
        """{state, since, until[, failure_rate, calls]} as recorded at `moment`."""
        ...

    def of_channel(self, channel: str) -> list[str]:
        """The configured providers of a channel whose breakers were ever recorded."""
        ...


def plain(value: Any) -> Json:
    """JSON-ready: ids and times as strings, sets sorted, tuples and dataclasses unpacked."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, (UUID, Decimal)):
        return str(value)
    if isinstance(value, (datetime, date, time)):
        return value.isoformat()
    if isinstance(value, enum.Enum):
        return plain(value.value)
    if isinstance(value, Mapping):
        return {str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (set, frozenset)):
        return sorted((plain(v) for v in value), key=repr)
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return plain(dataclasses.asdict(value))
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


def shown(value: Json, audience: str) -> Json:
    """`value` (plain JSON) without what `audience` may not see, at any depth."""
    if isinstance(value, dict):
        return {k: shown(v, audience) for k, v in value.items()
                if visible(k, audience, v) and not _address_shaped(v)}
    if isinstance(value, list):
        return [shown(v, audience) for v in value if not _address_shaped(v)]
    return value


def visible(field: str, audience: str, value: Json = None) -> bool:
    if field in HIDDEN_FIELDS and not (field in CHANNEL_RECORDS and isinstance(value, dict)):
        return False
    if field in CONTENT_FIELDS:
        return audience == RECIPIENT and field == "title"
    return not (audience == SERVICE and field == RECIPIENT_SETTINGS)


def _address_shaped(value: Json) -> bool:
    return isinstance(value, str) and ADDRESS_SHAPE.fullmatch(value) is not None


def event_name(event: Any) -> str:
    return str(type(event).__qualname__)


def payload(event: Any) -> dict[str, Json]:
    fields = plain({k: v for k, v in vars(event).items() if k not in METADATA_FIELDS})
    assert isinstance(fields, dict)
    return fields


def snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def steps_of(event: Any, audience: str, breakers: Breakers) -> list[TraceStep]:
    """The trace steps one event of a notification stands for (a `Decided` is one per step
    of the pipeline; every other event one)."""
    name = event_name(event)
    short = name.rsplit(".", 1)[-1]
    fields = payload(event)
    if short == "Decided" and isinstance(fields.get("steps"), list):
        return [_decision(event, name, record, audience) for record in fields["steps"]
                if isinstance(record, dict)]
    if short == "Requested" and fields.get("renderings"):
        # version 2 records its templates in itself: the request, then a step per template
        renderings = [r for r in fields.pop("renderings") if isinstance(r, dict)]
        return [_step(event, name, short, fields, audience), *(
            _step(event, name, "TemplateRendered", rendering, audience)
            for rendering in renderings)]
    if short == "Dispatched":
        fields["breakers"] = _breakers(fields, event, breakers)
    return [_step(event, name, short, fields, audience)]


def _step(event: Any, name: str, short: str, fields: dict[str, Json],
          audience: str) -> TraceStep:
    describe = DESCRIPTIONS.get(short)
    step, outcome = describe(fields) if describe else (snake(short), _generic(short, fields))
    return TraceStep(event.timestamp, event.originator_version, name, step, outcome,
                     shown(fields, audience), getattr(event, "causation_id", None))


def _decision(event: Any, name: str, record: dict[str, Json], audience: str) -> TraceStep:
    step_name = str(record.get("step", "?"))
    outcome = str(record.get("outcome", "?"))
    said = [f"{c} ({r})" for c, r in record.get("ruled_out") or []]
    if record.get("reason"):
        said.append(str(record["reason"]))
    if record.get("hold_until"):
        said.append(f"until {record['hold_until']}")
    if record.get("rerouted"):
        said.append(f"to {_listed(record['rerouted'])}")
    if said:
        outcome = f"{outcome}: {'; '.join(said)}"
    details = {k: v for k, v in record.items() if k not in ("step", "outcome")}
    if audience == SERVICE and step_name in SERVICE_INPUT_STEPS:
        audience = ADMIN  # the same view, its inputs included
    return TraceStep(event.timestamp, event.originator_version, name, "decision", outcome,
                     shown(details, audience), getattr(event, "causation_id", None),
                     name=step_name)


def _breakers(fields: dict[str, Json], event: Any, breakers: Breakers) -> dict[str, Json]:
    """The chosen providers' breakers; with none chosen (every breaker open), those of the
    channel's providers."""
    deliveries = fields.get("deliveries") or []
    chosen = [str(d.get("provider")) for d in deliveries if isinstance(d, dict)]
    providers = dict.fromkeys(chosen or breakers.of_channel(str(fields.get("channel"))))
    return {provider: breakers.at(provider, event.at) for provider in providers}


def _generic(short: str, fields: dict[str, Json]) -> str:
    said = ", ".join(f"{k}={v}" for k, v in fields.items()
                     if isinstance(v, (str, int, float, bool)) and k not in CONTENT_FIELDS
                     and k not in HIDDEN_FIELDS and not _address_shaped(v))
    return f"{short}: {said}" if said else short


def _listed(items: Sequence[Json]) -> str:
    return ", ".join(str(i) for i in items) or "none"


def _requested(f: dict[str, Json]) -> tuple[str, str]:
    later = f" not before {f['send_at']}" if f.get("send_at") else ""
    return "request", (f"{f.get('category')} ({f.get('priority')}) on "
                       f"{_listed(f.get('channels') or [])} from {f.get('caller')}{later}")


def _routed(f: dict[str, Json]) -> tuple[str, str]:
    kept = _listed(f.get("channels") or [])
    inbox = " + inbox" if f.get("inbox") else ""
    skipped = "; ".join(f"{c} skipped ({r})" for c, r in f.get("skipped") or [])
    return "routing", f"channels: {kept}{inbox}" + (f"; {skipped}" if skipped else "")


def _dispatched(f: dict[str, Json]) -> tuple[str, str]:
    deliveries = f.get("deliveries") or []
    if not deliveries:
        return "dispatch", (f"{f.get('channel')} attempt {f.get('attempt')}: no provider "
                            f"could be used (breakers open)")
    states = f.get("breakers") or {}
    via = ", ".join(f"{d.get('provider')} (breaker "
                    f"{states.get(d.get('provider'), {}).get('state', '?')})" for d in deliveries)
    return "dispatch", f"{f.get('channel')} attempt {f.get('attempt')} via {via}"


def _failed(f: dict[str, Json]) -> tuple[str, str]:
    notes = "".join([", retryable" if f.get("retryable") else "",
                     ", address gone" if f.get("address_gone") else ""])
    return "answer", (f"{f.get('provider')} failed: {f.get('code') or 'no code'} "
                      f"({f.get('latency_ms')} ms{notes})")


def _rechecked(f: dict[str, Json]) -> tuple[str, str]:
    """The dispatch-time re-check (commands/notifications/recheck.py) in a sentence; its
    steps, as `Decided`'s, are in the details."""
    channel = f.get("channel")
    if f.get("outcome") == "given_up":
        return "recheck", f"{channel} re-checked at dispatch: given up ({f.get('reason')})"
    if f.get("outcome") == "held":
        holds = [s for s in f.get("steps") or [] if isinstance(s, dict) and s.get("hold_until")]
        until = holds[-1] if holds else {}
        return "recheck", (f"{channel} re-checked at dispatch: held until "
                           f"{until.get('hold_until')} ({until.get('step')})")
    left_out = len(f.get("left_out") or [])
    return "recheck", (f"{channel} re-checked at dispatch: {left_out} "
                       f"number{'' if left_out == 1 else 's'} without SMS consent now left out")


def _throttled(f: dict[str, Json]) -> tuple[str, str]:
    return "throttle", (f"{f.get('channel')}: the {f.get('bucket')} bucket had "
                        f"{f.get('tokens')} of {f.get('capacity')} tokens (refills "
                        f"{f.get('refill_per_second')}/s): {f.get('policy')} until "
                        f"{f.get('until')}")


def _clicked(f: dict[str, Json]) -> str:
    """Which link, by its index, never the link itself (content)."""
    index, channel = f.get("link_index"), f.get("channel")
    if channel is None:
        return "a link was opened"
    what = "the notification" if index is None else f"link {index}"
    how = {"tracked_link": "a tracked link", "in_app": "the app"}.get(str(f.get("source")),
                                                                      "unknown")
    return f"{what} clicked on {channel} (said by {how})"


DESCRIPTIONS: Mapping[str, Callable[[dict[str, Json]], tuple[str, str]]] = {
    "Requested": _requested,
    "Routed": _routed,
    "Dispatched": _dispatched,
    "Failed": _failed,
    "PostedToInbox": lambda f: ("inbox", "posted to the in-app inbox"),
    "Suppressed": lambda f: ("suppressed", f"suppressed: {f.get('reason')}"),
    "Held": lambda f: ("hold", f"held until {f.get('until')} ({f.get('reason')})"),
    "Queued": lambda f: ("queue", f"queued for {f.get('channel')}, attempt {f.get('attempt')}"),
    "Accepted": lambda f: ("answer", f"{f.get('provider')} accepted "
                                     f"({f.get('latency_ms')} ms)"),
    "Delivered": lambda f: ("delivered", f"delivered on {f.get('channel')} "
                                         f"(said by {f.get('source')})"),
    "ChannelAccepted": lambda f: ("accepted", f"{f.get('channel')} accepted on attempt "
                                              f"{f.get('attempt')}"),
    "Retried": lambda f: ("retry", f"{f.get('channel')} attempt {f.get('next_attempt')} "
                                   f"due {f.get('due_at')}"),
    "FellBack": lambda f: ("fallback", f"{f.get('from_channel')} -> {f.get('to_channel')}: "
                                       f"{f.get('reason')}"),
    "FallbackScheduled": lambda f: ("fallback", f"{f.get('to_channel')} at {f.get('due_at')} "
                                                f"unless delivered or read by then"),
    "Released": lambda f: ("release", f"{f.get('kind')} timer came due"),
    "DeadLettered": lambda f: ("dead_letter", f"dead-lettered after {f.get('attempts')} "
                                              f"attempt{'' if f.get('attempts') == 1 else 's'}"
                                              f": {f.get('reason')}"),
    "Redriven": lambda f: ("redrive", "redriven from its first channel"),
    "Cancelled": lambda f: ("cancelled", f"cancelled: {f.get('reason')}"),
    "TemplateRendered": lambda f: ("template", f"{f.get('channel')}: template "
                                               f"{f.get('template_id')} v{f.get('version')} in "
                                               f"{f.get('locale')} (asked "
                                               f"{f.get('asked_locale') or 'no locale'})"),
    "Digested": lambda f: ("digest", f"collapsed into digest {f.get('into')}"),
    "FallbackCancelled": lambda f: ("fallback", f"fallback cancelled: {f.get('reason')}"),
    "Throttled": _throttled,
    "Rechecked": _rechecked,
    "Read": lambda f: ("read", "read in the inbox"),
    "Clicked": lambda f: ("clicked", _clicked(f)),
}
