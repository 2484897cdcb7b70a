"""The inbox's live frames, made from a projection batch against the read store it was written
to (SQLite here; the e2e tests run both profiles): one `notification` frame per notification
posted to an inbox or read, for its recipient if they have a live socket open (the presence
leases), with the unread count after the batch; none for what is not shown. A recipient with
no socket open costs no read-store query. And the seam: a frame maker that fails costs its
frames, never the batch."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Collection, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.read_model.sqlite_read_store import SQLiteReadStore
from domain.notifications.content import Content
from domain.notifications.decisions import RecipientFacts, RoutingRequest, decide
from domain.notifications.notifications import Notification
from event_log.aggregate import Cause
from parley import assembly
from projections.identity.presence import MemoryPresence
from projections.messaging.live import ADDRESSED, LocalFanOut, OpenSockets, frames_for
from projections.notifications import inbox as inbox_queries
from projections.notifications.inbox import InboxProjector
from projections.notifications.inbox_frames import inbox_frames
from projections.read_model.documents import DocumentChange, Filter, Page, Query, ReadStore

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
INBOX_ONLY = RecipientFacts(frozenset({"in_app"}), frozenset({"in_app"}))


class CountingStore:
    """A real read store that keeps a note of each read it is asked for."""

    def __init__(self, store: ReadStore) -> None:
        self.inner = store
        self.reads: list[tuple[str, Any]] = []

    def apply(self, changes: Sequence[DocumentChange], projection: str, position: int) -> None:
        self.inner.apply(changes, projection, position)

    def apply_late(self, changes: Sequence[DocumentChange]) -> None:
        self.inner.apply_late(changes)

    def get(self, collection: str, doc_id: str) -> dict[str, Any] | None:
        self.reads.append(("get", doc_id))
        return self.inner.get(collection, doc_id)

    def get_many(self, collection: str, doc_ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        self.reads.append(("get_many", tuple(doc_ids)))
        return self.inner.get_many(collection, doc_ids)

    def query(self, query: Query) -> Page:
        self.reads.append(("query", tuple(query.filters)))
        return self.inner.query(query)

    def count(self, collection: str, filters: Sequence[Filter], up_to: int) -> int:
        self.reads.append(("count", tuple(filters)))
        return self.inner.count(collection, filters, up_to)

    def position(self, projection: str) -> int:
        return self.inner.position(projection)

    def close(self) -> None:
        self.inner.close()

    def counted_for(self) -> list[str]:
        """Whose unread notifications were counted, in order."""
        return [next(f.value for f in filters if f.field == "recipient_id")
                for kind, filters in self.reads if kind == "count"]


class Listening:
    """`OpenSockets` over a fixed set of people, noting whom it was asked about."""

    def __init__(self, *people: uuid.UUID) -> None:
        self.people = {str(p) for p in people}
        self.asked: list[set[str]] = []

    def __call__(self, user_ids: Collection[str]) -> set[str]:
        self.asked.append(set(user_ids))
        return self.people & set(user_ids)


class Inbox:
    """The inbox projection over a real read store, fed events as the runner feeds them."""

    def __init__(self, store: SQLiteReadStore) -> None:
        self.store = CountingStore(store)
        self.projector = InboxProjector()
        self.positions = itertools.count(1)

    def project(self, *notifications: Notification) -> list[DocumentChange]:
        changes: list[DocumentChange] = []
        for notification in notifications:
            for event in notification.collect_events():
                changes += self.projector.changes(event, next(self.positions))
        position = next(self.positions)
        self.store.apply(changes, self.projector.name, position)
        self.store.reads.clear()  # what the frames then read is all that is counted
        return changes


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[Inbox]:
    store = SQLiteReadStore(tmp_path / "read.sqlite3")
    yield Inbox(store)
    store.close()


def for_inbox(recipient: uuid.UUID, title: str = "Build finished", *,
              send_at: datetime | None = None) -> Notification:
    notification = Notification.request(
        uuid.uuid4(), recipient, category="system", priority="high", channels=("in_app",),
        fallback_after_seconds=None, content=Content(title, "All green.", {"build": 7}),
        send_at=send_at, cancellation_key=None, caller="apikey:test", at=NOW, cause=CAUSE)
    notification.route(decide(RoutingRequest("system", "high", ("in_app",), send_at),
                              INBOX_ONLY, NOW), NOW, CAUSE)
    return notification


def test_a_notification_posted_to_an_inbox_is_one_frame_for_its_recipient_with_the_count(
        inbox: Inbox) -> None:
    bob = uuid.uuid4()
    earlier = for_inbox(bob, "Earlier")
    inbox.project(earlier)
    posted = for_inbox(bob)
    [(recipient, frame)] = inbox_frames(inbox.project(posted), inbox.store, Listening(bob))
    assert recipient == str(bob)
    assert frame == {"type": "notification", "unread": 2, "notification": {
        "notification_id": str(posted.id), "category": "system", "priority": "high",
        "title": "Build finished", "body": "All green.", "data": {"build": 7},
        "deep_link": None, "posted_at": "2026-12-02T09:00:00Z", "read": False,
        "read_at": None}}


def test_reading_one_is_a_frame_with_it_read_and_the_count_after(inbox: Inbox) -> None:
    bob = uuid.uuid4()
    first, second = for_inbox(bob), for_inbox(bob)
    inbox.project(first, second)
    second.mark_read(bob, NOW + timedelta(minutes=1), CAUSE)
    [(recipient, frame)] = inbox_frames(inbox.project(second), inbox.store, Listening(bob))
    assert recipient == str(bob) and frame["unread"] == 1
    assert frame["notification"]["notification_id"] == str(second.id)
    assert frame["notification"]["read"] is True
    assert frame["notification"]["read_at"] == "2026-12-02T09:01:00Z"


def test_each_recipient_gets_only_their_own_frames_and_their_own_count(inbox: Inbox) -> None:
    bob, cyrus = uuid.uuid4(), uuid.uuid4()
    inbox.project(for_inbox(bob))
    frames = inbox_frames(inbox.project(for_inbox(bob), for_inbox(cyrus)), inbox.store,
                          Listening(bob, cyrus))
    assert [(recipient, frame["unread"]) for recipient, frame in frames] == [
        (str(bob), 2), (str(cyrus), 1)]


def test_recipients_with_no_socket_open_get_no_frame_and_cost_no_query(inbox: Inbox) -> None:
    everyone = [uuid.uuid4() for _ in range(50)]
    inbox.project(*[for_inbox(person) for person in everyone])  # unread ones to count
    nobody = Listening()
    assert inbox_frames(inbox.project(*[for_inbox(person) for person in everyone]),
                        inbox.store, nobody) == []
    assert inbox.store.reads == []
    assert nobody.asked == [{str(person) for person in everyone}]  # once, for the batch


def test_only_those_listening_are_read_and_counted(inbox: Inbox) -> None:
    bob, cyrus, dana = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    inbox.project(for_inbox(bob), for_inbox(cyrus), for_inbox(dana))
    frames = inbox_frames(inbox.project(for_inbox(cyrus), for_inbox(bob), for_inbox(dana)),
                          inbox.store, Listening(bob))
    assert [(recipient, frame["unread"]) for recipient, frame in frames] == [(str(bob), 2)]
    assert inbox.store.counted_for() == [str(bob)]
    assert [kind for kind, _ in inbox.store.reads] == ["get_many", "count"]  # his item, his count


def test_a_read_or_a_scheduled_post_is_looked_up_once_to_learn_whose_it_is(
        inbox: Inbox) -> None:
    bob, cyrus = uuid.uuid4(), uuid.uuid4()
    reads, held = for_inbox(bob), for_inbox(cyrus, send_at=NOW + timedelta(hours=1))
    inbox.project(reads, held)
    reads.mark_read(bob, NOW, CAUSE)
    held.release(held.timer_count, NOW + timedelta(hours=1), CAUSE)
    nobody = Listening()
    assert inbox_frames(inbox.project(reads, held), inbox.store, nobody) == []
    assert [kind for kind, _ in inbox.store.reads] == ["get_many"]  # both in one, no count
    assert nobody.asked == [{str(bob), str(cyrus)}]
    inbox.store.reads.clear()
    again = for_inbox(cyrus, send_at=NOW + timedelta(hours=1))
    inbox.project(again)
    again.release(again.timer_count, NOW + timedelta(hours=1), CAUSE)
    [(recipient, frame)] = inbox_frames(inbox.project(again), inbox.store, Listening(cyrus))
    assert recipient == str(cyrus) and frame["unread"] == 2
    assert frame["notification"]["notification_id"] == str(again.id)


def test_an_unread_count_stops_at_the_cap_as_the_inbox_shows_it(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inbox_queries, "UNREAD_COUNT_CAP", 3)
    bob = uuid.uuid4()
    inbox.project(*[for_inbox(bob) for _ in range(4)])
    [(_, frame)] = inbox_frames(inbox.project(for_inbox(bob)), inbox.store, Listening(bob))
    assert frame["unread"] == 3
    assert inbox_queries.InboxQueries(inbox.store).unread_count(str(bob)) == 3


def test_nothing_is_sent_for_what_the_inbox_does_not_show(inbox: Inbox) -> None:
    recipient = uuid.uuid4()
    held = for_inbox(recipient, send_at=NOW + timedelta(hours=1))  # requested, not posted
    listening = Listening(recipient)
    assert inbox_frames(inbox.project(held), inbox.store, listening) == []
    held.cancel("cancelled by its cancellation key", NOW, CAUSE)
    assert inbox_frames(inbox.project(held), inbox.store, listening) == []


def test_the_frames_go_to_whom_the_presence_leases_say_has_a_socket_open(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    presence = MemoryPresence()
    bob, cyrus, dana = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    now = datetime.now(UTC)
    assert presence.admit(str(bob), "bob-phone", now, limit=5)
    assert presence.admit(str(cyrus), "cyrus-phone", now, limit=5)
    presence.record(str(cyrus), "cyrus-phone", False, now)  # closed again
    live = LocalFanOut()
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(live, "publish", published.append)
    changes = inbox.project(for_inbox(bob), for_inbox(cyrus), for_inbox(dana))
    assembly.live_notifier(live, inbox.store, presence)(changes, 9)
    [addressed] = published
    assert [addressee for addressee, _ in addressed["frames"]] == [str(bob)]
    assert inbox.store.counted_for() == [str(bob)]


class FailingStore:
    def query(self, *_: Any) -> Any:
        raise ConnectionError("the read store is away")


def test_a_frame_maker_that_fails_costs_its_frames_and_nothing_else(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def failing(changes: Sequence[DocumentChange], store: ReadStore,
                open_sockets: OpenSockets) -> list[Any]:
        return inbox_frames(changes, FailingStore(), open_sockets)  # type: ignore[arg-type]

    monkeypatch.setattr(assembly.contexts, "live_frames", lambda: [failing, inbox_frames])
    live = LocalFanOut()
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(live, "publish", published.append)
    presence = MemoryPresence()
    bob = uuid.uuid4()
    assert presence.admit(str(bob), "bob-phone", datetime.now(UTC), limit=5)
    changes = inbox.project(for_inbox(bob))
    with caplog.at_level(logging.WARNING, logger="parley.assembly"):
        assembly.live_notifier(live, inbox.store, presence)(changes, 99)
    [addressed] = published
    assert addressed["type"] == ADDRESSED
    assert [f["unread"] for f in frames_for(addressed, str(bob))] == [1]
    assert frames_for(addressed, str(uuid.uuid4())) == []
    assert "live frames of a projection batch up to 99 not made" in caplog.text
