"""The inbox's live frames, made from a projection batch against the read store it was written
to (SQLite here; the e2e tests run both profiles): one `notification` frame per notification
posted to an inbox or read, for its recipient, with the unread count after the batch; none for
what is not shown. And the seam: a frame maker that fails costs its frames, never the batch."""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Iterator, Sequence
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
from projections.messaging.live import ADDRESSED, LocalFanOut, frames_for
from projections.notifications import inbox_frames as frames_module
from projections.notifications.inbox import InboxProjector
from projections.notifications.inbox_frames import inbox_frames
from projections.read_model.documents import DocumentChange, ReadStore

NOW = datetime(2026, 12, 2, 9, 0, tzinfo=UTC)
CAUSE = Cause(uuid.uuid4(), uuid.uuid4())
INBOX_ONLY = RecipientFacts(frozenset({"in_app"}), frozenset({"in_app"}))


class Inbox:
    """The inbox projection over a real read store, fed events as the runner feeds them."""

    def __init__(self, store: SQLiteReadStore) -> None:
        self.store = store
        self.projector = InboxProjector()
        self.positions = itertools.count(1)

    def project(self, *notifications: Notification) -> list[DocumentChange]:
        changes: list[DocumentChange] = []
        for notification in notifications:
            for event in notification.collect_events():
                changes += self.projector.changes(event, next(self.positions))
        position = next(self.positions)
        self.store.apply(changes, self.projector.name, position)
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
    [(recipient, frame)] = inbox_frames(inbox.project(posted), inbox.store)
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
    [(recipient, frame)] = inbox_frames(inbox.project(second), inbox.store)
    assert recipient == str(bob) and frame["unread"] == 1
    assert frame["notification"]["notification_id"] == str(second.id)
    assert frame["notification"]["read"] is True
    assert frame["notification"]["read_at"] == "2026-12-02T09:01:00Z"


def test_each_recipient_gets_only_their_own_frames_and_their_own_count(inbox: Inbox) -> None:
    bob, cyrus = uuid.uuid4(), uuid.uuid4()
    inbox.project(for_inbox(bob))
    frames = inbox_frames(inbox.project(for_inbox(bob), for_inbox(cyrus)), inbox.store)
    assert [(recipient, frame["unread"]) for recipient, frame in frames] == [
        (str(bob), 2), (str(cyrus), 1)]


def test_counts_hold_when_one_inbox_has_more_unread_than_one_read_takes(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(frames_module, "UNREAD_READ_AT_ONCE", 3)
    monkeypatch.setattr(frames_module, "COUNTED_AT_ONCE", 2)
    bob, cyrus, dana = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    inbox.project(*[for_inbox(bob) for _ in range(4)])
    frames = inbox_frames(inbox.project(for_inbox(bob), for_inbox(cyrus), for_inbox(dana)),
                          inbox.store)
    assert [(recipient, frame["unread"]) for recipient, frame in frames] == [
        (str(bob), 5), (str(cyrus), 1), (str(dana), 1)]


def test_nothing_is_sent_for_what_the_inbox_does_not_show(inbox: Inbox) -> None:
    held = for_inbox(uuid.uuid4(), send_at=NOW + timedelta(hours=1))  # requested, not posted
    assert inbox_frames(inbox.project(held), inbox.store) == []
    held.cancel("cancelled by its cancellation key", NOW, CAUSE)
    assert inbox_frames(inbox.project(held), inbox.store) == []


class FailingStore:
    def query(self, *_: Any) -> Any:
        raise ConnectionError("the read store is away")


def test_a_frame_maker_that_fails_costs_its_frames_and_nothing_else(
        inbox: Inbox, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    def failing(changes: Sequence[DocumentChange], store: ReadStore) -> list[Any]:
        return inbox_frames(changes, FailingStore())  # type: ignore[arg-type]

    monkeypatch.setattr(assembly.contexts, "live_frames", lambda: [failing, inbox_frames])
    live = LocalFanOut()
    published: list[dict[str, Any]] = []
    monkeypatch.setattr(live, "publish", published.append)
    bob = uuid.uuid4()
    changes = inbox.project(for_inbox(bob))
    with caplog.at_level(logging.WARNING, logger="parley.assembly"):
        assembly.live_notifier(live, inbox.store)(changes, 99)
    [addressed] = published
    assert addressed["type"] == ADDRESSED
    assert [f["unread"] for f in frames_for(addressed, str(bob))] == [1]
    assert frames_for(addressed, str(uuid.uuid4())) == []
    assert "live frames of a projection batch up to 99 not made" in caplog.text
