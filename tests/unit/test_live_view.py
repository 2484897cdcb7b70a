"""A socket follows its member's feed from the stream, in memory, exactly as re-reading the
feed after every event would give it; whatever does not continue from its cursor it refuses."""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from api.http.dependencies import Session
from api.messaging.live_socket import LiveFeed, SocketSession
from domain.identity.users import User
from domain.messaging.messages import Message
from projections.messaging.live import (
    MAX_STREAMED_CHANGES,
    STREAM,
    LiveView,
    LocalFanOut,
    stream_notification,
)
from tests.builders import a_cause
from tests.projected_world import ProjectedWorld


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ProjectedWorld]:
    projected = ProjectedWorld(tmp_path)
    yield projected
    projected.close()


def a_busy_history(world: ProjectedWorld) -> tuple[User, ...]:
    """Joins, leaves, a private change, blocks and unblocks, interleaved with messages."""
    ada, bob, cy, dan = (world.person(n) for n in ("ada", "bob", "cy", "dan"))
    club = world.group(ada, bob)
    world.send(club, ada, "welcome")
    club.add_members(ada.id, (cy.id,), 250, a_cause(ada.id))
    world.record(club)
    world.send(club, cy, "hi all")
    world.block(bob, cy)
    world.send(club, cy, "bob cannot see this")
    hello = world.send(club, bob, "hello")
    hidden = Message.post(hello, club.id, bob.id, 3, a_cause(bob.id))
    hidden.collect_events()
    hidden.hide_for(cy.id, a_cause(cy.id))  # private to cy
    world.record(hidden)
    world.unblock(bob, cy)
    world.send(club, cy, "bob sees this again")
    club.remove_member(ada.id, bob.id, a_cause(ada.id))
    world.record(club)
    world.send(club, ada, "bob is gone")
    club.add_members(ada.id, (bob.id, dan.id), 250, a_cause(ada.id))
    world.record(club)
    world.send(club, dan, "back together")
    return ada, bob, cy, dan


def read_as_it_happens(world: ProjectedWorld, directory: Path,
                       readers: tuple[User, ...]) -> dict[str, list[dict[str, Any]]]:
    """The feed re-read after every event of the log, as a socket without the stream would."""
    replica = ProjectedWorld(directory)
    seen: dict[str, list[dict[str, Any]]] = {str(r.id): [] for r in readers}
    cursors = dict.fromkeys(seen, 0)
    for positioned in world.log:
        for projector in replica.projectors:
            replica.writer.project(projector, [positioned], positioned.position)
        for reader in seen:
            page = replica.feed.since(reader, cursors[reader], 500)
            seen[reader] += page["changes"]
            cursors[reader] = page["cursor"]
    replica.close()
    return seen


def followed(world: ProjectedWorld, reader: User, chunk: int) -> list[dict[str, Any]]:
    view, shown = LiveView(str(reader.id), 0), []
    events = world.log
    for start in range(0, len(events), chunk):
        batch = events[start:start + chunk]
        notification = stream_notification(batch, batch[0].position - 1, batch[-1].position)
        result = view.follow(notification)
        assert result is not None
        shown += result
    assert view.cursor == world.position
    return shown


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_following_the_stream_gives_what_reading_the_feed_as_it_happens_gives(
    world: ProjectedWorld, tmp_path: Path, chunk: int
) -> None:
    people = a_busy_history(world)
    expected = read_as_it_happens(world, tmp_path / "replica", people)
    for reader in people:
        assert followed(world, reader, chunk) == expected[str(reader.id)]
    assert [c["data"]["text"] for c in expected[str(people[1].id)]
            if c["kind"] == "message_sent"] == [
        "welcome", "hi all", "hello", "bob sees this again", "back together"]


def test_a_notification_that_does_not_continue_from_the_cursor_is_refused() -> None:
    view = LiveView("ada", 10)
    gap = {"type": STREAM, "after": 12, "position": 15, "changes": [], "blocks": []}
    assert view.follow(gap) is None
    assert view.cursor == 10


def test_changes_already_seen_are_not_sent_again(world: ProjectedWorld) -> None:
    ada, _bob, *_ = a_busy_history(world)
    notification = stream_notification(world.log, 0, world.position)
    view = LiveView(str(ada.id), 0)
    assert view.follow(notification)
    assert view.follow(notification) == []
    assert view.follow(stream_notification(world.log[-3:], world.position - 5,
                                           world.position)) == []


def test_a_block_hides_what_follows_it_in_the_same_notification(world: ProjectedWorld) -> None:
    ada, bob = world.person("ada"), world.person("bob")
    club = world.group(ada, bob)
    joined = world.position
    world.send(club, bob, "before")
    world.block(ada, bob)
    world.send(club, bob, "after")
    view = LiveView(str(ada.id), joined, conversations={str(club.id)})
    shown = view.follow(stream_notification(world.log[joined:], joined, world.position))
    assert [c["data"]["text"] for c in shown or []] == ["before"]
    assert view.blocked == {str(bob.id)}


def test_a_batch_too_large_to_carry_is_left_to_re_reading(world: ProjectedWorld) -> None:
    ada, bob = world.person("ada"), world.person("bob")
    club = world.group(ada, bob)
    start = world.position
    for i in range(MAX_STREAMED_CHANGES + 1):
        world.send(club, ada, f"message {i}")
    notification = stream_notification(world.log[start:], start, world.position)
    assert notification["truncated"] and "changes" not in notification
    assert LiveView(str(bob.id), start, conversations={str(club.id)}).follow(
        notification) is None


def unsend_and_edit(world: ProjectedWorld) -> tuple[User, int]:
    """A group where ada sends two messages, edits one and unsends the other; the position
    after the sends."""
    ada, bob = world.person("ada"), world.person("bob")
    club = world.group(ada, bob)
    regretted = world.send(club, ada, "regrettable words")
    revised = world.send(club, ada, "first draft")
    sent = world.position
    for message_id, seq in ((regretted, 1), (revised, 2)):
        message = Message.post(message_id, club.id, ada.id, seq, a_cause(ada.id))
        message.collect_events()
        if seq == 1:
            message.unsend(ada.id, datetime.now(UTC), a_cause(ada.id))
        else:
            message.edit(ada.id, "final words", datetime.now(UTC), a_cause(ada.id))
        world.record(message)
    return bob, sent


def test_the_recent_stream_never_replays_a_text_taken_back_later(
        world: ProjectedWorld) -> None:
    bob, sent = unsend_and_edit(world)
    fan_out = LocalFanOut()
    fan_out.publish(stream_notification(world.log[:sent], 0, sent))
    fan_out.publish(stream_notification(world.log[sent:], sent, world.position))
    replayed = LiveView(str(bob.id), 0)
    shown = [c for n in fan_out.recent_stream() for c in replayed.follow(n) or []]
    texts = [(c["kind"], c["data"].get("text")) for c in shown if c["kind"] != "group_created"]
    assert texts == [("message_sent", None), ("message_sent", "final words"),
                     ("message_unsent", None), ("message_edited", "final words")]
    assert "regrettable" not in repr(fan_out.recent_stream())
    assert "draft" not in repr(fan_out.recent_stream())


def test_a_notification_holding_a_send_and_its_unsend_carries_no_text(
        world: ProjectedWorld) -> None:
    bob, _ = unsend_and_edit(world)
    notification = stream_notification(world.log, 0, world.position)
    assert "regrettable" not in repr(notification) and "draft" not in repr(notification)
    assert [c["kind"] for c in LiveView(str(bob.id), 0).follow(notification) or []][-2:] == [
        "message_unsent", "message_edited"]


def test_the_fan_out_keeps_the_recent_stream_and_nothing_else() -> None:
    fan_out = LocalFanOut()
    stream = [{"type": STREAM, "after": i, "position": i + 1, "changes": [], "blocks": []}
              for i in range(3)]
    for notification in [stream[0], {"type": "typing"}, *stream[1:]]:
        fan_out.publish(notification)
    assert fan_out.recent_stream() == stream


def a_socket_session(user: User) -> SocketSession:
    return SocketSession(Session(user.id, uuid.uuid4()), expires_at=math.inf)


class RecordingSocket:
    def __init__(self) -> None:
        self.frames: list[dict[str, Any]] = []

    async def send_json(self, frame: dict[str, Any]) -> None:
        self.frames.append(frame)


def test_a_socket_that_missed_part_of_the_stream_re_reads_its_feed_once_models_land(
    world: ProjectedWorld,
) -> None:
    ada, bob = world.person("ada"), world.person("bob")
    club = world.group(ada, bob)
    world.send(club, ada, "one")
    socket = RecordingSocket()
    feed = LiveFeed(SimpleNamespace(feed=world.feed, live=LocalFanOut()),  # type: ignore[arg-type]
                    socket, a_socket_session(bob), 0, "socket-1")  # type: ignore[arg-type]
    asyncio.run(feed.catch_up())

    def sent(text: str) -> dict[str, Any]:
        before = world.position
        world.send(club, ada, text)
        return stream_notification(world.log[before:], before, world.position)

    lost, heard, also_heard = sent("two"), sent("three"), sent("four")
    # the read models landed something, anything: time to re-read up to them
    landed = {"type": "changes", "conversation_ids": ["elsewhere"], "user_ids": [],
              "position": world.position}
    following = []

    async def hear(*notifications: dict[str, Any]) -> None:
        for notification in notifications:
            await feed.hear(notification)
            following.append(feed.following)

    asyncio.run(hear(heard, also_heard, landed, also_heard, sent("five")))
    texts = [c["data"]["text"] for f in socket.frames for c in f["changes"]
             if c["kind"] == "message_sent"]
    assert texts == ["one", "two", "three", "four", "five"]
    assert following == [False, False, True, True, True]
    assert lost["position"] < socket.frames[-1]["cursor"] == world.position


def test_blocks_the_stream_announced_win_over_lagging_read_models(
    world: ProjectedWorld,
) -> None:
    ada, bob, cy = world.person("ada"), world.person("bob"), world.person("cy")
    before = world.position
    world.block(ada, bob)
    world.block(ada, cy)
    world.unblock(ada, cy)
    recent = [stream_notification(world.log[p - 1:p], p - 1, p)
              for p in range(before + 1, world.position + 1)]
    view = LiveView(str(ada.id), world.position, blocked={str(cy.id)})  # as the models had it
    view.reapply_blocks(recent)
    assert view.blocked == {str(bob.id)}
