"""The blocker stops receiving anything from the person they blocked, in shared groups too,
while the block lasts; everyone else still sees everything."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.messaging.errors import MessageNotFound
from domain.messaging.messages import Message
from tests.builders import a_cause
from tests.projected_world import ProjectedWorld


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ProjectedWorld]:
    projected = ProjectedWorld(tmp_path)
    yield projected
    projected.close()


def texts(world: ProjectedWorld, reader: str, conversation: str) -> list[str]:
    page = world.messaging.messages(conversation, reader, 50, None, token=world.position)
    return [m["text"] for m in page.documents]


def test_messages_from_someone_you_blocked_leave_every_view_of_yours_until_you_unblock(
    world: ProjectedWorld,
) -> None:
    ada, bob, cy = (world.person(n) for n in ("ada", "bob", "cy"))
    group = world.group(ada, bob, cy)
    conversation, reader = str(group.id), str(ada.id)
    world.send(group, cy, "plans from cy")
    from_bob = world.send(group, bob, "plans from bob")
    world.block(ada, bob)

    assert texts(world, reader, conversation) == ["plans from cy"]
    assert texts(world, str(cy.id), conversation) == ["plans from bob", "plans from cy"]
    assert [m["text"] for m in world.messaging.search(reader, "plans", 10, None).documents] \
        == ["plans from cy"]
    with pytest.raises(MessageNotFound):
        world.messaging.message(str(from_bob), reader)
    [listed] = world.messaging.conversations(reader, 10, None, token=world.position).documents
    assert listed["unread_count"] == 1 and "last_message_preview" not in listed
    assert world.messaging.unread(reader)["total"] == 1
    sent = [c["data"]["text"] for c in world.feed.since(reader, 0, 100)["changes"]
            if c["kind"] == "message_sent"]
    assert sent == ["plans from cy"]

    world.unblock(ada, bob)
    assert texts(world, reader, conversation) == ["plans from bob", "plans from cy"]
    assert world.messaging.unread(reader, token=world.position)["total"] == 2


def test_reactions_and_receipts_of_someone_you_blocked_are_not_shown_to_you(
    world: ProjectedWorld,
) -> None:
    ada, bob, cy = (world.person(n) for n in ("ada", "bob", "cy"))
    group = world.group(ada, bob, cy)
    message_id = world.send(group, cy, "vote")
    message = Message.post(message_id, group.id, cy.id, 1, a_cause(cy.id))
    message.collect_events()
    message.react(bob.id, "👍", a_cause(bob.id))
    message.react(cy.id, "👍", a_cause(cy.id))
    world.record(message)
    world.block(ada, bob)

    [thumbs] = world.messaging.message(str(message_id), str(ada.id))["reactions"]
    assert thumbs == {"emoji": "👍", "count": 1, "user_ids": [str(cy.id)]}
    kinds = [(c["kind"], c["data"].get("user_id")) for c in
             world.feed.since(str(ada.id), 0, 100)["changes"] if c["kind"] == "reaction_added"]
    assert kinds == [("reaction_added", str(cy.id))]
    [everyone] = world.messaging.message(str(message_id), str(cy.id))["reactions"]
    assert everyone["count"] == 2
