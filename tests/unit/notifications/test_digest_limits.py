"""What one recipient can accumulate in digests is bounded, and no notification is lost for it:
the member that reaches the member limit fills its digest, which is due at once (the next
member opens the next digest); a caller at its open-digest limit for the recipient gets the
next notification that would open one more sent on its own; the digest step records which
limit decided and its value; the summary fits its channels whatever the members.

Through the trigger and flush handlers on the in-memory log of test_collapsing_triggers.py,
which refuses a save over a newer version (the writer then decides the command again)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from commands.notifications.digest_flush import FlushDigests, flush_digests
from commands.notifications.trigger import TriggerNotifications, trigger_notifications
from domain.notifications.category_policy import CategoryPolicy
from domain.notifications.collapsing import (
    MEMBERS_LIMIT,
    OPEN_DIGESTS_LIMIT,
    DigestLimits,
    DigestTarget,
)
from domain.notifications.content import (
    PUSH_PAYLOAD_BYTES,
    Content,
    content_problem,
    push_payload,
)
from domain.notifications.decisions import RecipientFacts, RoutingRequest
from domain.notifications.digest_bounds import (
    FILLED,
    OpenDigests,
    TooManyOpenDigests,
    open_digests_id,
    summary_within,
)
from domain.notifications.digests import (
    FLUSHED,
    CollapseIntoDigest,
    Digest,
    DigestAsk,
    DigestClosed,
    DigestSlot,
    digest_id,
    digest_slot_id,
)
from domain.notifications.notifications import DIGESTED, Notification, notification_id
from projections.notifications.schedule import NotificationScheduleProjector
from tests.builders import a_cause
from tests.unit.notifications.test_collapsing_triggers import Log, Pending, a_recipient

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
WINDOW = 600
CALLER = "apikey:club"
TITLE = "{count} new messages"
LIMITS = DigestLimits(max_members=3, max_open=2)


def a_trigger(recipient: uuid.UUID, at: datetime, key: str = "book-club",
              limits: DigestLimits = LIMITS, *, category: str = "message",
              caller: str = CALLER, channels: tuple[str, ...] = ("in_app",),
              content: Content | None = None) -> TriggerNotifications:
    return TriggerNotifications(
        uuid.uuid4(), caller, (recipient,), category, "normal", channels,
        content or Content("Grace", "hi"), at, digest=DigestAsk(key, WINDOW, TITLE),
        policy=CategoryPolicy(digests=limits))


def triggered(log: Log, command: TriggerNotifications) -> Notification:
    result = log.run(trigger_notifications, command)
    found = log.get(result.notification_ids[0])
    assert isinstance(found, Notification)
    return found


def digest_step(log: Log, notification: Notification) -> dict[str, Any]:
    decided = next(e for e in log.events_of(notification.id)
                   if isinstance(e, Notification.Decided))
    [step] = [s for s in decided.steps if s["step"] == "digest"]
    return dict(step)


def digests_under(log: Log, recipient: uuid.UUID, key: str,
                  caller: str = CALLER) -> list[Digest]:
    slot_id = digest_slot_id(caller, recipient, "message", key)
    try:
        slot = log.get(slot_id)
    except Exception:  # noqa: BLE001 - no slot yet: no digest
        return []
    assert isinstance(slot, DigestSlot)
    return [log.get(digest_id(slot_id, n)) for n in range(1, slot.number + 1)]


def flush_of(recipient: uuid.UUID, keys: list[str], at: datetime) -> FlushDigests:
    return FlushDigests(tuple(digest_id(digest_slot_id(CALLER, recipient, "message", key), n)
                              for key in keys for n in range(1, 40)), at)


def a_digest(title: str = TITLE, deep_link: str | None = None) -> Digest:
    slot = DigestSlot.open(CALLER, uuid.uuid4(), "message", "book-club", a_cause())
    return Digest.open(slot, WINDOW, title, NOW, None, deep_link, a_cause())


# --- the domain -----------------------------------------------------------------------------


def test_the_member_that_reaches_the_limit_fills_the_digest_which_is_due_at_once() -> None:
    digest = a_digest()
    later = NOW + timedelta(seconds=5)
    assert not digest.collect(uuid.uuid4(), "normal", ("push",), Content("a", "b"), NOW,
                              a_cause(), max_members=2)
    assert digest.collecting and not digest.due(later)
    assert digest.collect(uuid.uuid4(), "normal", ("push",), Content("a", "b"), later,
                          a_cause(), max_members=2)
    assert digest.filled and not digest.collecting and digest.due(later)
    filled = [e for e in digest.collect_events() if isinstance(e, Digest.Filled)]
    assert [(e.max_members, e.at) for e in filled] == [(2, later)]
    with pytest.raises(DigestClosed):
        digest.collect(uuid.uuid4(), "normal", ("push",), Content("a", "b"), later, a_cause())
    assert digest.flush(uuid.uuid4(), later, a_cause()) and digest.count == 2


def test_a_version_2_digest_snapshot_was_never_filled() -> None:
    state: dict[str, Any] = {"count": 3}
    Digest.upcast_v2_v3(state)
    assert state == {"count": 3, "filled": False}


def test_the_open_digest_index_refuses_one_beyond_its_limit_and_forgets_those_due() -> None:
    index = OpenDigests.start(CALLER, uuid.uuid4(), a_cause())
    one, two, three = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    index.add(one, NOW + timedelta(seconds=60), NOW, 2, a_cause())
    index.add(two, NOW + timedelta(seconds=600), NOW, 2, a_cause())
    index.add(two, NOW + timedelta(seconds=600), NOW, 2, a_cause())  # again: no change
    assert index.open_at(NOW) == 2
    with pytest.raises(TooManyOpenDigests):
        index.add(three, NOW + timedelta(seconds=600), NOW, 2, a_cause())
    assert index.open_at(NOW + timedelta(seconds=60)) == 1  # the first one's window ended
    index.add(three, NOW + timedelta(seconds=660), NOW + timedelta(seconds=60), 2, a_cause())
    assert set(index.flush_times) == {str(two), str(three)}  # its state stays bounded
    assert index.close(two, "filled", NOW + timedelta(seconds=61), a_cause())
    assert not index.close(two, "filled", NOW + timedelta(seconds=62), a_cause())
    assert index.open_at(NOW + timedelta(seconds=62)) == 1


def test_the_open_digest_index_time_never_goes_back_for_a_trigger_decided_behind_it() -> None:
    index = OpenDigests.start(CALLER, uuid.uuid4(), a_cause())
    early, late = uuid.uuid4(), uuid.uuid4()
    index.add(early, NOW + timedelta(seconds=60), NOW, 1, a_cause())
    index.add(late, NOW + timedelta(seconds=660), NOW + timedelta(seconds=60), 1, a_cause())
    assert index.close(late, FILLED, NOW + timedelta(seconds=61), a_cause())
    behind = NOW + timedelta(seconds=30)  # decided again after the later opening committed
    assert index.open_at(behind) == 0 and not index.close(early, FILLED, behind, a_cause())
    index.add(uuid.uuid4(), behind + timedelta(seconds=600), behind, 1, a_cause())


def test_the_open_digest_index_loads_from_its_snapshot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(OpenDigests, "snapshot_every", 2)
    log = Log()
    index = OpenDigests.start(CALLER, uuid.uuid4(), a_cause())
    for n in range(5):
        index.add(uuid.uuid4(), NOW + timedelta(seconds=600 + n), NOW, 10, a_cause())
    log.log.save(index)
    assert log.log.snapshots is not None and list(log.log.snapshots.get(index.id))
    loaded = log.get(index.id)
    assert isinstance(loaded, OpenDigests)
    assert loaded.flush_times == index.flush_times and loaded.open_at(NOW) == 5


def test_the_step_sends_one_at_the_open_digest_limit_on_its_own_and_says_why() -> None:
    target = DigestTarget(uuid.uuid4(), "chess", WINDOW, True, NOW + timedelta(seconds=WINDOW),
                          limits=DigestLimits(100, 2), open_digests=2, limit=OPEN_DIGESTS_LIMIT)
    facts = RecipientFacts(frozenset({"inbox"}), frozenset({"inbox"}), digest=target)
    decision = CollapseIntoDigest().decide(
        RoutingRequest("message", "normal", ("in_app",), None), facts, NOW)
    assert decision.digest_into is None and decision.outcome == "send"
    assert decision.inputs["limit"] == OPEN_DIGESTS_LIMIT
    assert decision.inputs["open_digests"] == decision.inputs["max_open_digests"] == 2
    assert decision.inputs["digest_id"] is None and decision.inputs["fills"] is False


def test_the_summary_fits_push_however_long_the_title_lines_and_deep_link() -> None:
    digest = a_digest(title="\u0001" * 200 + TITLE, deep_link="parley://" + "x" * 3400)
    for n in range(60):
        digest.collect(uuid.uuid4(), "normal", ("push",),
                       Content("\u0001" * 100, f"line {n}"), NOW, a_cause())
    content = summary_within(digest, ["push", "sms", "email"])
    assert all(content_problem(content, c) is None for c in ("push", "sms", "email"))
    assert len(push_payload(content)) <= PUSH_PAYLOAD_BYTES
    assert content.body.endswith("and 60 more") and content.data["count"] == 60
    assert content.title.endswith("\u2026") and content.deep_link == digest.deep_link


def test_the_summary_keeps_every_shown_line_when_they_fit() -> None:
    digest = a_digest()
    for n in range(8):
        digest.collect(uuid.uuid4(), "normal", ("sms",), Content("Grace", f"line {n}"), NOW,
                       a_cause())
    content = summary_within(digest, ["sms"])
    assert content == digest.content()
    assert content.title == "8 new messages" and content.body.splitlines()[-1] == "and 3 more"


# --- through the handlers ------------------------------------------------------------------


def test_a_full_digest_flushes_at_once_and_the_next_member_opens_the_next() -> None:
    log = Log()
    ada = a_recipient(log)
    members = [triggered(log, a_trigger(ada, NOW + timedelta(seconds=i))) for i in range(4)]
    assert {m.state for m in members} == {DIGESTED}
    first, second = digests_under(log, ada, "book-club")
    assert first.member_ids == [m.id for m in members[:3]] and first.filled
    assert first.flush_at == NOW + timedelta(seconds=2)  # the filling member's moment
    assert second.member_ids == [members[3].id] and not second.filled
    [filled] = [e for e in log.events_of(first.id) if isinstance(e, Digest.Filled)]
    [change] = NotificationScheduleProjector().changes(filled, 7)  # the due-time index
    assert change.fields == {"due_at_ms": int((NOW + timedelta(seconds=2)).timestamp() * 1000)}
    filling = digest_step(log, members[2])
    assert filling["inputs"] | {"limit": MEMBERS_LIMIT, "fills": True, "members": 3,
                                "max_members": 3} == filling["inputs"]
    assert digest_step(log, members[1])["inputs"]["fills"] is False
    opening = digest_step(log, members[3])["inputs"]
    assert (opening["opens"], opening["limit"], opening["members"]) == (True, MEMBERS_LIMIT, 1)
    flushed = log.run(flush_digests, flush_of(ada, ["book-club"], NOW + timedelta(seconds=3)))
    assert flushed.digest_ids == (first.id,)  # long before its window ended; the next waits
    sent = log.get(flushed.notification_ids[0])
    assert sent.title == "3 new messages" and sent.data["count"] == 3


def test_at_the_open_digest_limit_a_new_key_is_sent_alone_and_recorded() -> None:
    log = Log()
    ada = a_recipient(log)
    triggered(log, a_trigger(ada, NOW, "one"))
    triggered(log, a_trigger(ada, NOW, "two"))
    alone = triggered(log, a_trigger(ada, NOW + timedelta(seconds=1), "three"))
    assert alone.state not in (DIGESTED, "suppressed") and digests_under(log, ada, "three") == []
    step = digest_step(log, alone)
    assert step["outcome"] == "send"
    assert step["inputs"] | {"limit": OPEN_DIGESTS_LIMIT, "open_digests": 2,
                             "max_open_digests": 2} == step["inputs"]
    # joining a digest already open opens none: still digested at the limit
    joined = triggered(log, a_trigger(ada, NOW + timedelta(seconds=2), "one"))
    assert joined.state == DIGESTED and digest_step(log, joined)["inputs"]["limit"] is None


def test_a_filled_digest_or_an_ended_window_makes_room_for_another_key() -> None:
    log = Log()
    ada = a_recipient(log)
    triggered(log, a_trigger(ada, NOW, "one"))
    triggered(log, a_trigger(ada, NOW, "two"))
    for i in range(2):  # "one" fills: it flushes at once, and is open no longer
        triggered(log, a_trigger(ada, NOW + timedelta(seconds=1 + i), "one"))
    assert triggered(log, a_trigger(ada, NOW + timedelta(seconds=3), "three")).state == DIGESTED
    assert triggered(log, a_trigger(ada, NOW + timedelta(seconds=4), "four")).state != DIGESTED
    after = NOW + timedelta(seconds=WINDOW)  # "two"'s window ended
    assert triggered(log, a_trigger(ada, after, "four")).state == DIGESTED


def test_another_callers_open_digests_leave_this_callers_limit_alone() -> None:
    log = Log()
    ada = a_recipient(log)
    for key in ("one", "two"):
        triggered(log, a_trigger(ada, NOW, key, caller="apikey:shop"))
    assert triggered(log, a_trigger(ada, NOW, "one")).state == DIGESTED
    index = log.get(open_digests_id(CALLER, ada))
    assert isinstance(index, OpenDigests) and index.open_at(NOW) == 1


def test_a_lowered_member_limit_fills_a_fuller_digest_at_its_next_member() -> None:
    log = Log()
    ada = a_recipient(log)
    for i in range(4):
        triggered(log, a_trigger(ada, NOW + timedelta(seconds=i), limits=DigestLimits(10, 2)))
    triggered(log, a_trigger(ada, NOW + timedelta(seconds=5), limits=DigestLimits(3, 2)))
    [digest] = digests_under(log, ada, "book-club")
    assert digest.count == 5 and digest.filled and digest.due(NOW + timedelta(seconds=5))


OPS = st.lists(st.one_of(
    st.tuples(st.just("trigger"), st.integers(0, 3), st.integers(0, 3)),  # clock, key
    st.tuples(st.just("critical"), st.integers(0, 3), st.integers(0, 3)),
    st.tuples(st.just("flush"), st.integers(0, 3), st.just(0)),
    st.tuples(st.just("commit"), st.integers(0, 7), st.just(0))), max_size=40)


@settings(max_examples=80, deadline=None)
@given(OPS, st.integers(2, 4), st.integers(1, 3))
# k2's digest, opened at +600 s, commits first: the index forgets k0's (its window ended by
# then), which fills at +0 s (no Closed: forgotten), as k2's does (Closed); k0's next opens at
# +300 s with none open (counting k0's first at its own clock, the test once said one was)
@example(ops=[("trigger", 0, 0), ("trigger", 0, 0), ("flush", 0, 0), ("trigger", 0, 2),
              ("trigger", 3, 0), ("trigger", 3, 2), ("commit", 0, 0), ("commit", 4, 0)],
         max_members=2, max_open=1)
def test_no_notification_is_lost_or_counted_twice_whatever_the_limits(
        ops: list[tuple[str, int, int]], max_members: int, max_open: int) -> None:
    log = Log()
    ada = a_recipient(log)
    limits = DigestLimits(max_members, max_open)
    keys = [f"k{n}" for n in range(4)]
    clock = NOW
    pending: list[Pending] = []
    asked: list[TriggerNotifications] = []
    for op, number, key in ops:
        if op == "commit":
            if pending:
                log.commit(pending.pop(number % len(pending)))
            continue
        clock += timedelta(seconds=100 * number)
        if op == "flush":
            pending.append(log.decide(flush_digests, flush_of(ada, keys, clock)))
            continue
        command = a_trigger(ada, clock, keys[key], limits,
                            category="security" if op == "critical" else "message")
        asked.append(command)
        pending.append(log.decide(trigger_notifications, command))
    for left in pending:
        log.commit(left)
    log.run(flush_digests, flush_of(ada, keys, clock + timedelta(seconds=WINDOW)))

    digests = [d for key in keys for d in digests_under(log, ada, key)]
    in_digests = [m for d in digests for m in d.member_ids]
    assert len(in_digests) == len(set(in_digests))  # none in two digests
    alone = 0
    for command in asked:
        notification = log.get(notification_id(command.request_id, ada))
        if command.category == "security" or notification.state != DIGESTED:
            assert notification.id not in in_digests
            assert notification.state not in ("suppressed", "cancelled")  # sent, not dropped
            alone += command.category != "security"
            if command.category != "security":  # only the open-digest limit sends one alone
                assert digest_step(log, notification)["inputs"]["limit"] == OPEN_DIGESTS_LIMIT
        else:
            assert notification.id in in_digests
    assert len(in_digests) + alone == sum(c.category != "security" for c in asked)
    index = log.get(open_digests_id(CALLER, ada)) if digests else None
    listed = [e.digest_id for e in log.events_of(index.id)
              if isinstance(e, OpenDigests.Added)] if index is not None else []
    assert sorted(map(str, listed)) == sorted(str(d.id) for d in digests)  # each counted once
    # the index's history, event by event: each opening found fewer than max_open open. One
    # counts from its Added until filled (Closed) or until its flush time has passed at the
    # latest opening the index recorded: a trigger decided again after a later one committed
    # is decided after that moment, whatever its own clock (it may be minutes behind here)
    by_id = {d.id: d for d in digests}
    flush_times: dict[uuid.UUID, datetime] = {}
    latest = NOW
    for event in log.events_of(index.id) if index is not None else []:
        if isinstance(event, OpenDigests.Added):
            latest = max(latest, event.at)
            assert sum(t > latest for t in flush_times.values()) < max_open
            opened = by_id[event.digest_id]
            assert (event.at, event.flush_at) == (
                opened.opened_at, opened.opened_at + timedelta(seconds=WINDOW))
            flush_times[event.digest_id] = event.flush_at
        elif isinstance(event, OpenDigests.Closed):
            assert event.reason == FILLED and by_id[event.digest_id].filled
            del flush_times[event.digest_id]
    for digest in digests:
        assert 0 < digest.count <= max_members and digest.filled is (digest.count == max_members)
        flushes = [e for e in log.events_of(digest.id) if isinstance(e, Digest.Flushed)]
        assert digest.state == FLUSHED and len(flushes) == 1
        sent = log.get(flushes[0].notification_id)
        assert sent.data["count"] == digest.count


def test_limits_come_from_the_operators_settings() -> None:
    from commands.notifications.preferences import category_policy
    from parley.settings import Settings

    configured = Settings(notification_digest_max_members=7, notification_digest_max_open=9)
    assert category_policy(configured).digests == DigestLimits(7, 9)
    assert category_policy(Settings()).digests == DigestLimits(100, 50)
