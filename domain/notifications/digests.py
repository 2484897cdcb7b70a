"""Digests: the notifications of a category for one recipient under one digest key (e.g. a
conversation) within a window, sent as one ("5 new messages in Book club" with the first
lines).

Two aggregates, both keyed by uuid5 so that concurrent triggers meet on the same ids:
- `DigestSlot` (caller, recipient, category, key): the open-digest index, the number of the
  digest a trigger joins now. It is created with digest 1 and advanced when that one has been
  flushed (or is full).
- `Digest` (the slot's id and number): opened by the first member with its flush time
  (opened at + window), collects members (each member notification records
  `Notification.Digested(into=digest id)` and sends nothing itself), flushes once, at its
  timer, into one new notification, then takes no more members: the next trigger advances the
  slot and opens a new digest.

Exactly once under concurrency rests on the writer: a member joining and the flush both append
the digest's next version, so one of them is refused by the log's optimistic concurrency and
decided again on fresh state (event_log/writer.py): the member then joins the next digest, or
the flush includes it. A critical notification is never digested (the `digest` step).

Bounds (domain/notifications/digest_bounds.py, ADR 0020): the member that takes a digest to
the operator's member limit fills it (`Filled`: its flush time becomes that moment, so the
timer flushes it at once, and the next member opens the next digest); a caller that has as
many digests open for the recipient as the operator allows gets the next one that would
open another sent on its own, undigested. Both are recorded in the digest step's inputs.

A member may carry its position (Parley's own message digests: the message's seq in its
conversation), so that a read receipt withdraws the members it passed
(`withdraw`: `MembersWithdrawn`, and `Cancelled` when no member is left, so the flushed digest
never announces what was read already; commands/notifications/suppression.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Final
from uuid import UUID, uuid5

from domain.errors import Conflict
from domain.notifications.channels import rank
from domain.notifications.collapsing import DEFAULT_DIGEST_TITLE, OPEN_DIGESTS_LIMIT
from domain.notifications.content import Content
from domain.notifications.decisions import Decision, RecipientFacts, RoutingRequest
from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, copied, values

DIGEST: Final = "digest"
COLLECTING: Final = "collecting"
FLUSHED: Final = "flushed"
CANCELLED: Final = "cancelled"  # every member was withdrawn before its flush: nothing is sent
MAX_MEMBERS: Final = 1000  # the most an operator's member limit may be (digest_bounds.py)
SHOWN_LINES: Final = 5  # the first members' lines in the digest's body
LINE_CHARS: Final = 100
MAX_KEY_LENGTH: Final = 200
COUNT: Final = "{count}"
DEFAULT_TITLE: Final = DEFAULT_DIGEST_TITLE
ELLIPSIS: Final = "\u2026"


class DigestClosed(Conflict):
    """A member for a digest that was flushed (or is full): it joins the next one."""


def digest_slot_id(caller: str, recipient_id: UUID, category: str, key: str) -> UUID:
    """A caller's digest keys are its own, per recipient and category."""
    return uuid5(NOTIFICATION_NAMESPACE, f"digest/{caller}/{recipient_id}/{category}/{key}")


def digest_id(slot_id: UUID, number: int) -> UUID:
    return uuid5(slot_id, f"digest/{number}")


@dataclass(frozen=True)
class DigestAsk:
    """A trigger's (or an operator's per-category) wish to digest: the key, the window, the
    digest's title with `{count}` for the number of members, and the member's position under
    the key (a message's seq in its conversation: a read receipt withdraws those it passed)."""

    key: str
    window_seconds: int
    title: str | None = None
    position: int | None = None


class DigestSlot(ParleyAggregate):
    def __init__(self, caller: str, recipient_id: UUID, category: str, key: str) -> None:
        self.caller = caller
        self.recipient_id = recipient_id
        self.category = category
        self.key = key
        self.number = 1

    class Opened(ParleyAggregate.Created):
        caller: str
        recipient_id: UUID
        category: str
        key: str

    class Advanced(ParleyAggregate.Event):
        number: int
        copies = copied("number")

    @classmethod
    def open(cls, caller: str, recipient_id: UUID, category: str, key: str,
             cause: Cause) -> DigestSlot:
        return cls._create(cls.Opened, id=digest_slot_id(caller, recipient_id, category, key),
                           caller=caller, recipient_id=recipient_id, category=category, key=key,
                           **cause.as_event_fields())

    @property
    def current(self) -> UUID:
        return digest_id(self.id, self.number)

    @property
    def following(self) -> UUID:
        return digest_id(self.id, self.number + 1)

    def advance(self, cause: Cause) -> UUID:
        self.trigger_event(self.Advanced, number=self.number + 1, **cause.as_event_fields())
        return self.current


@dataclass(frozen=True)
class Member:
    """What a digest keeps of a member: its id, plan and first line (the first few only)."""

    notification_id: UUID
    priority: str
    channels: tuple[str, ...]
    line: str


class Digest(ParleyAggregate):
    """Version 2 keeps each shown line with its member (`shown`) and the members' positions,
    so withdrawn members take their lines with them; a version-1 snapshot's lines belong to
    its first members, and it knew no positions. Version 3 knows whether it was filled (a
    version-2 snapshot never was: digests were not filled then)."""

    class_version = 3
    snapshot_every = SNAPSHOT_EVERY

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        lines = state.pop("lines", [])
        state["shown"] = {str(m): line for m, line in zip(state["member_ids"], lines,
                                                          strict=False)}
        state["positions"] = {}

    @staticmethod
    def upcast_v2_v3(state: dict[str, Any]) -> None:
        state["filled"] = False

    def __init__(self, slot_id: UUID, number: int, caller: str, recipient_id: UUID,
                 category: str, key: str, title: str, opened_at: datetime,
                 flush_at: datetime, fallback_after_seconds: int | None,
                 deep_link: str | None) -> None:
        self.slot_id = slot_id
        self.number = number
        self.caller = caller
        self.recipient_id = recipient_id
        self.category = category
        self.key = key
        self.title = title
        self.opened_at = opened_at
        self.flush_at = flush_at
        self.fallback_after_seconds = fallback_after_seconds
        self.deep_link = deep_link
        self.state = COLLECTING
        self.count = 0
        self.member_ids: list[UUID] = []
        self.shown: dict[str, str] = {}  # member id -> its line, the first SHOWN_LINES only
        self.positions: dict[str, int] = {}  # member id -> its position under the key
        self.priority = ""
        self.channels: list[str] = []
        self.flushed_into: UUID | None = None
        self.filled = False  # reached its member limit: due at once, takes no more members

    class Opened(ParleyAggregate.Created):
        slot_id: UUID
        number: int
        caller: str
        recipient_id: UUID
        category: str
        key: str
        title: str
        opened_at: datetime
        flush_at: datetime
        fallback_after_seconds: int | None
        deep_link: str | None

    class Collected(ParleyAggregate.Event):
        """Version 2 added `position` (None: the member has none, and no receipt passes it)."""

        class_version = 2
        notification_id: UUID
        priority: str
        channels: list[str]
        line: str  # empty once the digest shows SHOWN_LINES lines
        at: datetime
        position: int | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["position"] = None

        def apply(self, aggregate: Any) -> None:
            aggregate.count += 1
            aggregate.member_ids.append(self.notification_id)
            if self.position is not None:
                aggregate.positions[str(self.notification_id)] = self.position
            if self.line:
                aggregate.shown[str(self.notification_id)] = self.line
            if not aggregate.priority or rank(self.priority) < rank(aggregate.priority):
                aggregate.priority = self.priority
            aggregate.channels.extend(c for c in self.channels if c not in aggregate.channels)

    class Flushed(ParleyAggregate.Event):
        notification_id: UUID  # the digest's own notification
        count: int
        at: datetime
        copies = copied(flushed_into="notification_id")
        sets = values(state=FLUSHED)

    class Filled(ParleyAggregate.Event):
        """The member limit (`max_members`, the operator's then) was reached at `at`: the
        digest's flush time becomes `at` (the timer flushes it at once) and the next member
        opens the next digest."""

        max_members: int
        at: datetime
        copies = copied(flush_at="at")
        sets = values(filled=True)

    class MembersWithdrawn(ParleyAggregate.Event):
        """Members taken out before the flush (`reason` "read_receipt": the recipient read
        their messages; "unsent"); the event's cause is the receipt's or the unsend's."""

        notification_ids: list[UUID]
        reason: str
        at: datetime

        def apply(self, aggregate: Any) -> None:
            gone = {str(n) for n in self.notification_ids}
            aggregate.member_ids = [m for m in aggregate.member_ids if str(m) not in gone]
            aggregate.count = len(aggregate.member_ids)
            for member in gone:
                aggregate.shown.pop(member, None)
                aggregate.positions.pop(member, None)

    class Cancelled(ParleyAggregate.Event):
        """No member left to announce: the digest is never flushed (the next member opens
        the next digest)."""

        reason: str
        at: datetime
        sets = values(state=CANCELLED)

    @classmethod
    def open(cls, slot: DigestSlot, window_seconds: int, title: str, at: datetime,
             fallback_after_seconds: int | None, deep_link: str | None,
             cause: Cause) -> Digest:
        return cls._create(cls.Opened, id=slot.current, slot_id=slot.id, number=slot.number,
                           caller=slot.caller, recipient_id=slot.recipient_id,
                           category=slot.category, key=slot.key, title=title, opened_at=at,
                           flush_at=at + timedelta(seconds=window_seconds),
                           fallback_after_seconds=fallback_after_seconds, deep_link=deep_link,
                           **cause.as_event_fields())

    @property
    def window_seconds(self) -> int:
        return int((self.flush_at - self.opened_at).total_seconds())

    @property
    def collecting(self) -> bool:
        return self.state == COLLECTING and not self.filled and self.count < MAX_MEMBERS

    @property
    def lines(self) -> list[str]:
        return list(self.shown.values())

    def collect(self, notification_id: UUID, priority: str, channels: Sequence[str],
                content: Content, at: datetime, cause: Cause,
                position: int | None = None, max_members: int = MAX_MEMBERS) -> bool:
        """Take a member; True when it filled the digest (`max_members` reached: `Filled`)."""
        if not self.collecting:
            raise DigestClosed("digest", "the digest takes no more members")
        line = first_line(content) if len(self.shown) < SHOWN_LINES else ""
        fields = cause.as_event_fields()
        self.trigger_event(self.Collected, notification_id=notification_id, priority=priority,
                           channels=list(channels), line=line, at=at, position=position,
                           **fields)
        if self.count < min(max_members, MAX_MEMBERS):
            return False
        self.trigger_event(self.Filled, max_members=max_members, at=at, **fields)
        return True

    def members_up_to(self, position: int) -> list[UUID]:
        """The members at or before `position` (those without one never are)."""
        return [m for m in self.member_ids if self.positions.get(str(m), position + 1)
                <= position]

    def members_at(self, position: int) -> list[UUID]:
        return [m for m in self.member_ids if self.positions.get(str(m)) == position]

    def announces_only_up_to(self, position: int) -> bool:
        """Every member it announces is at or before `position` (and it has members)."""
        return bool(self.member_ids) and len(self.members_up_to(position)) == self.count

    def withdraw(self, notification_ids: Sequence[UUID], reason: str, at: datetime,
                 cause: Cause) -> list[UUID]:
        """Take these members out while it collects (none left: cancelled); the members
        taken out. A flushed or cancelled digest changes no more."""
        present = set(self.member_ids)
        members = [m for m in dict.fromkeys(notification_ids) if m in present]
        if self.state != COLLECTING or not members:
            return []
        fields = cause.as_event_fields()
        self.trigger_event(self.MembersWithdrawn, notification_ids=members, reason=reason,
                           at=at, **fields)
        if not self.member_ids:
            self.trigger_event(self.Cancelled, reason=reason, at=at, **fields)
        return members

    def due(self, now: datetime) -> bool:
        return self.state == COLLECTING and now >= self.flush_at

    def flush(self, notification_id: UUID, now: datetime, cause: Cause) -> bool:
        """Once, at (or after) its flush time; a repeat, or a timer early, flushes nothing."""
        if not self.due(now):
            return False
        self.trigger_event(self.Flushed, notification_id=notification_id, count=self.count,
                           at=now, **cause.as_event_fields())
        return True

    def content(self, shown: int = SHOWN_LINES) -> Content:
        """The digest's notification: "{count} new ..." and the first members' lines."""
        lines = self.lines[:shown]
        more = self.count - len(lines)
        body = "\n".join(lines + ([f"and {more} more"] if more > 0 else []))
        return Content(self.title.replace(COUNT, str(self.count)), body or self.title,
                       {"digest_id": str(self.id), "count": self.count}, self.deep_link)


def first_line(content: Content) -> str:
    """A member's line: its title and the first line of its body, shortened."""
    body = next((line.strip() for line in content.body.splitlines() if line.strip()), "")
    text = f"{content.title}: {body}" if content.title and body else content.title or body
    text = " ".join(text.split())
    return text if len(text) <= LINE_CHARS else text[:LINE_CHARS].rstrip() + ELLIPSIS


class CollapseIntoDigest:
    """A decision step: a notification asked to be digested (by the trigger, or the
    operator's window for its category) joins its digest and sends nothing itself; a critical
    one never is, nor one asked for a later moment of its own (`send_at`), nor one that would
    open a digest beyond the caller's open-digest limit for the recipient (sent on its own,
    its inputs say `limit: open_digests`)."""

    name = DIGEST

    def decide(self, request: RoutingRequest, facts: RecipientFacts,
               now: datetime) -> Decision:
        target = facts.digest
        if target is None:
            return Decision(self.name)
        if request.critical:
            return Decision(self.name, inputs={"critical": True, "digest_key": target.key})
        if request.send_at is not None and request.send_at > now:
            # asked for a moment of its own: it keeps it, alone
            return Decision(self.name, inputs={"send_at": request.send_at,
                                               "digest_key": target.key})
        if target.limit == OPEN_DIGESTS_LIMIT:
            # the caller has as many digests open for the recipient as allowed: sent alone
            return Decision(self.name, inputs=target.inputs())
        return Decision(self.name, inputs=target.inputs(), digest_into=target.digest_id)
