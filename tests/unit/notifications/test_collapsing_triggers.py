"""Dedup keys and digests through the trigger and flush handlers, on an in-memory log that
refuses a save over a newer version of an aggregate (optimistic concurrency), as PostgreSQL
and SQLite do: a command decided on state another commit changed meanwhile is decided again
on fresh state, as the writer does (event_log/writer.py `_commit_each_alone`).

The property: whatever the interleaving of triggers and flushes (decided on stale state,
committed in any order), every digested notification is in exactly one digest, every digest
is flushed exactly once into one notification counting all its members, none is lost, and a
critical notification is never digested."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from hypothesis import given, settings
from hypothesis import strategies as st

from commands.notifications.digest_flush import DigestsFlushed, FlushDigests, flush_digests
from commands.notifications.trigger import (
    NotificationsRequested,
    TriggerNotifications,
    trigger_notifications,
)
from domain.identity.users import User
from domain.notifications import digests as digest_module
from domain.notifications.content import Content
from domain.notifications.digests import (
    FLUSHED,
    Digest,
    DigestAsk,
    DigestSlot,
    digest_id,
    digest_slot_id,
)
from domain.notifications.notifications import (
    DIGESTED,
    SUPPRESSED,
    Notification,
    notification_id,
)
from event_log.batch import Batch
from event_log.log import EventLog
from tests.builders import a_cause, a_handle

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WINDOW = 300
ASK = DigestAsk("book-club", WINDOW, "{count} new messages in Book club")
CALLER = "apikey:club"


@dataclass
class Pending:
    """A command decided on the log as it was, not yet saved."""

    handler: Callable[[Batch, Any, Any], Any]
    command: Any
    batch: Batch
    result: Any


class Log:
    def __init__(self) -> None:
        self.log = EventLog(env={"PERSISTENCE_MODULE": "eventsourcing.popo"})
        self.conflicts = 0

    def decide(self, handler: Callable[[Batch, Any, Any], Any], command: Any) -> Pending:
        batch = Batch(self.log.repository)
        return Pending(handler, command, batch, handler(batch, command, a_cause()))

    def commit(self, pending: Pending) -> Any:
        try:
            self.log.save(*pending.batch.touched())
        except IntegrityError:  # another commit came first: decide again on fresh state
            self.conflicts += 1
            return self.commit(self.decide(pending.handler, pending.command))
        return pending.result

    def run(self, handler: Callable[[Batch, Any, Any], Any], command: Any) -> Any:
        return self.commit(self.decide(handler, command))

    def get(self, aggregate_id: uuid.UUID) -> Any:
        return self.log.repository.get(aggregate_id)

    def events_of(self, aggregate_id: uuid.UUID) -> list[Any]:
        return list(self.log.repository.event_store.get(aggregate_id))


def a_recipient(log: Log) -> uuid.UUID:
    user = User.register(a_handle(), "Ada", a_cause())
    log.log.save(user)
    return user.id


def a_trigger(recipient: uuid.UUID, at: datetime, *, category: str = "message",
              caller: str = CALLER, dedup_key: str | None = None, dedup_window: int = 60,
              digest: DigestAsk | None = ASK, text: str = "hi") -> TriggerNotifications:
    return TriggerNotifications(
        uuid.uuid4(), caller, (recipient,), category, "normal", ("in_app",),
        Content("Grace", text), at, dedup_key=dedup_key, dedup_window_seconds=dedup_window,
        digest=digest)


def triggered(log: Log, command: TriggerNotifications) -> Notification:
    result = log.run(trigger_notifications, command)
    assert isinstance(result, NotificationsRequested)
    found = log.get(result.notification_ids[0])
    assert isinstance(found, Notification)
    return found


def digests_of(log: Log, recipient: uuid.UUID, caller: str = CALLER) -> list[Digest]:
    slot_id = digest_slot_id(caller, recipient, "message", ASK.key)
    try:
        slot = log.get(slot_id)
    except Exception:  # noqa: BLE001 - no slot yet: no digest
        return []
    assert isinstance(slot, DigestSlot)
    found = []
    for number in range(1, slot.number + 1):
        digest = log.get(digest_id(slot_id, number))
        assert isinstance(digest, Digest)
        found.append(digest)
    return found


def flush_all(log: Log, recipient: uuid.UUID, at: datetime) -> FlushDigests:
    slot_id = digest_slot_id(CALLER, recipient, "message", ASK.key)
    return FlushDigests(tuple(digest_id(slot_id, n) for n in range(1, 60)), at)


# --- dedup ---------------------------------------------------------------------------------


def test_the_same_key_within_its_window_is_suppressed_naming_the_first() -> None:
    log = Log()
    ada = a_recipient(log)
    first = triggered(log, a_trigger(ada, NOW, dedup_key="order-7", digest=None))
    again = triggered(log, a_trigger(ada, NOW + timedelta(seconds=59), dedup_key="order-7",
                                     digest=None))
    assert first.state != SUPPRESSED
    assert again.state == SUPPRESSED
    suppressed = next(e for e in log.events_of(again.id)
                      if isinstance(e, Notification.Suppressed))
    assert str(first.id) in suppressed.reason and suppressed.reason.startswith("dedup: ")
    decided = next(e for e in log.events_of(again.id) if isinstance(e, Notification.Decided))
    [step] = [s for s in decided.steps if s["step"] == "dedup"]
    assert step["outcome"] == "suppress"
    assert step["inputs"]["first_notification_id"] == str(first.id)


def test_after_its_window_the_key_sends_again_and_is_held_by_the_new_one() -> None:
    log = Log()
    ada = a_recipient(log)
    triggered(log, a_trigger(ada, NOW, dedup_key="order-7", digest=None))
    later = triggered(log, a_trigger(ada, NOW + timedelta(seconds=60), dedup_key="order-7",
                                     digest=None))
    third = triggered(log, a_trigger(ada, NOW + timedelta(seconds=61), dedup_key="order-7",
                                     digest=None))
    assert later.state != SUPPRESSED
    assert third.state == SUPPRESSED
    reason = next(e for e in log.events_of(third.id)
                  if isinstance(e, Notification.Suppressed)).reason
    assert str(later.id) in reason


def test_another_callers_key_dedups_nothing_of_this_callers() -> None:
    log = Log()
    ada = a_recipient(log)
    triggered(log, a_trigger(ada, NOW, dedup_key="order-7", digest=None))
    other = triggered(log, a_trigger(ada, NOW, dedup_key="order-7", caller="apikey:shop",
                                     digest=None))
    assert other.state != SUPPRESSED


def test_two_equal_triggers_decided_at_once_send_exactly_one() -> None:
    log = Log()
    ada = a_recipient(log)
    one = log.decide(trigger_notifications, a_trigger(ada, NOW, dedup_key="k", digest=None))
    two = log.decide(trigger_notifications, a_trigger(ada, NOW, dedup_key="k", digest=None))
    states = []
    for pending in (two, one):
        result = log.commit(pending)
        found = log.get(result.notification_ids[0])
        states.append(found.state)
    assert log.conflicts == 1
    assert sorted(s == SUPPRESSED for s in states) == [False, True]


# --- digests -------------------------------------------------------------------------------


def test_members_send_nothing_and_the_flush_sends_one_notification_counting_them() -> None:
    log = Log()
    ada = a_recipient(log)
    members = [triggered(log, a_trigger(ada, NOW + timedelta(seconds=i), text=f"line {i}"))
               for i in range(3)]
    assert {m.state for m in members} == {DIGESTED}
    [digest] = digests_of(log, ada)
    assert digest.member_ids == [m.id for m in members]
    early = log.run(flush_digests, flush_all(log, ada, NOW + timedelta(seconds=WINDOW - 1)))
    assert early == DigestsFlushed((), ())
    flushed = log.run(flush_digests, flush_all(log, ada, NOW + timedelta(seconds=WINDOW)))
    assert flushed.digest_ids == (digest.id,)
    sent = log.get(flushed.notification_ids[0])
    assert isinstance(sent, Notification)
    assert sent.request_id == digest.id and sent.state != DIGESTED
    assert sent.title == "3 new messages in Book club"
    assert sent.body.splitlines() == ["Grace: line 0", "Grace: line 1", "Grace: line 2"]
    decided = next(e for e in log.events_of(sent.id) if isinstance(e, Notification.Decided))
    assert all("digest_into" not in s for s in decided.steps)  # never digested again


def test_a_trigger_after_the_flush_opens_a_new_digest() -> None:
    log = Log()
    ada = a_recipient(log)
    triggered(log, a_trigger(ada, NOW))
    log.run(flush_digests, flush_all(log, ada, NOW + timedelta(seconds=WINDOW)))
    late = triggered(log, a_trigger(ada, NOW + timedelta(seconds=WINDOW + 1)))
    first, second = digests_of(log, ada)
    assert first.state == FLUSHED and first.count == 1
    assert second.member_ids == [late.id] and second.state != FLUSHED


def test_a_digest_at_the_member_ceiling_is_due_at_once_and_the_next_member_opens_another(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(digest_module, "MAX_MEMBERS", 2)  # whatever the operator's limit
    log = Log()
    ada = a_recipient(log)
    for i in range(3):
        triggered(log, a_trigger(ada, NOW + timedelta(seconds=i)))
    first, second = digests_of(log, ada)
    assert (first.count, second.count) == (2, 1)
    assert first.filled and first.due(NOW + timedelta(seconds=1))  # test_digest_limits.py
    flushed = log.run(flush_digests, flush_all(log, ada, NOW + timedelta(seconds=WINDOW + 2)))
    assert flushed.digest_ids == (first.id, second.id)


def test_a_critical_notification_is_never_digested() -> None:
    log = Log()
    ada = a_recipient(log)
    alert = triggered(log, a_trigger(ada, NOW, category="security"))
    assert alert.state != DIGESTED
    assert digests_of(log, ada) == []
    decided = next(e for e in log.events_of(alert.id) if isinstance(e, Notification.Decided))
    [step] = [s for s in decided.steps if s["step"] == "digest"]
    assert step["inputs"]["critical"] is True


OPS = st.lists(st.one_of(
    st.tuples(st.just("trigger"), st.integers(0, 3), st.booleans()),  # clock step, critical
    st.tuples(st.just("flush"), st.integers(0, 3), st.just(False)),
    st.tuples(st.just("commit"), st.integers(0, 7), st.just(False))), max_size=30)


@settings(max_examples=60)
@given(OPS)
def test_every_member_is_in_exactly_one_digest_flushed_exactly_once(
        ops: list[tuple[str, int, bool]]) -> None:
    log = Log()
    ada = a_recipient(log)
    clock = NOW
    pending: list[Pending] = []
    asked: list[tuple[TriggerNotifications, bool]] = []
    for op, number, critical in ops:
        if op == "commit":
            if pending:
                log.commit(pending.pop(number % len(pending)))
            continue
        clock += timedelta(seconds=100 * number)
        if op == "trigger":
            command = a_trigger(ada, clock, category="security" if critical else "message")
            asked.append((command, critical))
            pending.append(log.decide(trigger_notifications, command))
        else:
            pending.append(log.decide(flush_digests, flush_all(log, ada, clock)))
    for left in pending:
        log.commit(left)
    log.run(flush_digests, flush_all(log, ada, clock + timedelta(seconds=WINDOW)))

    digests = digests_of(log, ada)
    in_digests = [m for d in digests for m in d.member_ids]
    assert len(in_digests) == len(set(in_digests))  # no member in two digests
    for command, critical in asked:
        notification = log.get(notification_id(command.request_id, ada))
        assert (notification.state == DIGESTED) is not critical
        assert (notification.id in in_digests) is not critical  # none lost, none critical
    for digest in digests:
        assert digest.state == FLUSHED and digest.count == len(digest.member_ids) > 0
        flushes = [e for e in log.events_of(digest.id) if isinstance(e, Digest.Flushed)]
        assert len(flushes) == 1
        sent = log.get(flushes[0].notification_id)
        assert isinstance(sent, Notification) and sent.data["count"] == digest.count
