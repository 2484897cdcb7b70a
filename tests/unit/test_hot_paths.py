"""Hot paths come from the cache, the projectors invalidate them exactly, and a consistency
token never gets an entry older than itself."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from domain.identity.users import User
from domain.messaging.conversations import Conversation
from projections.messaging.cache_invalidation import hot_path_keys
from projections.messaging.conversations import CONVERSATIONS, MESSAGES
from projections.read_model.documents import Upsert
from projections.read_model.hot_paths import (
    StampedCache,
    blocks_key,
    inbox_key,
    latest_key,
    memberships_key,
)
from tests.builders import a_cause, now
from tests.projected_world import ProjectedWorld


@pytest.fixture
def world(tmp_path: Path) -> Iterator[ProjectedWorld]:
    projected = ProjectedWorld(tmp_path)
    yield projected
    projected.close()


def test_a_group_message_makes_stale_the_latest_page_and_every_members_list(
    world: ProjectedWorld,
) -> None:
    ada, bob, cy, eve = (world.person(n) for n in ("ada", "bob", "cy", "eve"))
    group = world.group(ada, bob, cy)
    world.group(eve)
    message_id = world.send(group, bob, "hello")
    stale = hot_path_keys([
        Upsert(MESSAGES, str(message_id), 99, {"conversation_id": str(group.id)}),
        Upsert(CONVERSATIONS, str(group.id), 99, {"last_seq": 2}),
    ], world.store)
    assert stale == {latest_key(str(group.id))} | {inbox_key(str(p.id)) for p in (ada, bob, cy)}


def test_a_reaction_names_its_conversation_so_only_that_latest_page_goes(
    world: ProjectedWorld,
) -> None:
    ada = world.person("ada")
    group = world.group(ada)
    message_id = world.send(group, ada, "hello")
    assert hot_path_keys([Upsert(MESSAGES, str(message_id), 99, {"reactions": {}})],
                         world.store) == {latest_key(str(group.id))}


def test_membership_and_block_changes_make_stale_only_their_people(
    world: ProjectedWorld,
) -> None:
    ada, bob = world.person("ada"), world.person("bob")
    group = world.group(ada, bob)
    read = Upsert("memberships", f"{group.id}:{bob.id}", 99, {"read_seq": 1})
    block = Upsert("blocks", f"{ada.id}:{bob.id}", 99, {"state": "blocked"})
    assert hot_path_keys([read], world.store) == {memberships_key(str(bob.id)),
                                                  inbox_key(str(bob.id))}
    assert hot_path_keys([block], world.store) == {blocks_key(str(ada.id)),
                                                   blocks_key(str(bob.id)),
                                                   inbox_key(str(ada.id))}


def bob_wrote_to_ada(world: ProjectedWorld) -> tuple[User, User, Conversation]:
    ada, bob = world.person("ada"), world.person("bob")
    group = world.group(ada, bob)
    world.send(group, bob, "one")
    return ada, bob, group


def test_the_conversation_list_is_served_from_the_cache_until_the_projector_invalidates_it(
    world: ProjectedWorld,
) -> None:
    ada, bob, group = bob_wrote_to_ada(world)
    reader = str(ada.id)
    assert world.messaging.conversations(reader, 10, None).documents[0]["last_seq"] == 1
    assert world.cache.get(inbox_key(reader)) is not None
    world.send(group, bob, "two")
    assert world.cache.get(inbox_key(reader)) is None
    [listed] = world.messaging.conversations(reader, 10, None).documents
    assert (listed["last_seq"], listed["last_message_preview"]) == (2, "two")
    assert world.messaging.unread(reader) == {"total": 2, "conversations": {str(group.id): 2}}


def test_a_read_with_a_token_never_gets_an_entry_older_than_the_token(
    world: ProjectedWorld,
) -> None:
    ada, bob, group = bob_wrote_to_ada(world)
    reader = str(ada.id)
    world.messaging.conversations(reader, 10, None)  # cached
    # The projector has written and recorded its position but not invalidated yet: the
    # moment a racing read can find the cache behind the read model.
    group.send_message(uuid.uuid4(), bob.id, "two", now(), a_cause(bob.id))
    [sent] = group.collect_events()
    world.position += 1
    for projector in world.projectors:
        world.store.apply(projector.changes(sent, world.position), projector.name,
                          world.position)
    untokened = world.messaging.conversations(reader, 10, None).documents[0]
    tokened = world.messaging.conversations(reader, 10, None, token=world.position).documents[0]
    assert untokened["last_seq"] == 1, "the cache is in use"
    assert tokened["last_seq"] == 2
    assert world.messaging.unread(reader, token=world.position)["total"] == 2


def test_an_entry_computed_while_the_projections_moved_is_not_kept(
    world: ProjectedWorld,
) -> None:
    ada = world.person("ada")

    def compute_while_a_batch_lands(_stamps: dict[str, int]) -> list[str]:
        world.send(world.group(ada), ada, "meanwhile")
        return ["computed"]

    value, _ = world.stamped.read("hot:test", ["messaging"], compute_while_a_batch_lands)
    assert value == ["computed"]
    assert world.cache.get("hot:test") is None


def test_an_entry_cached_before_a_generation_switch_is_never_used_after_it(
    world: ProjectedWorld,
) -> None:
    serving: dict[str, int] = {}
    stamped = StampedCache(world.cache, world.store, lambda: dict(serving))
    computed: list[str] = []

    def compute(_stamps: dict[str, int]) -> list[str]:
        computed.append("again")
        return [f"generation {serving.get('messaging', 1)}"]

    assert stamped.read("hot:test", ["messaging"], compute)[0] == ["generation 1"]
    assert stamped.read("hot:test", ["messaging"], compute)[0] == ["generation 1"]
    serving["messaging"] = 2  # another process switched: nothing here was told
    assert stamped.read("hot:test", ["messaging"], compute)[0] == ["generation 2"]
    assert stamped.read("hot:test", ["messaging"], compute)[0] == ["generation 2"]
    assert computed == ["again", "again"]


def test_an_entry_computed_while_a_generation_switched_is_not_kept(
    world: ProjectedWorld,
) -> None:
    serving: dict[str, int] = {}
    stamped = StampedCache(world.cache, world.store, lambda: dict(serving))

    def compute_while_switching(_stamps: dict[str, int]) -> list[str]:
        serving["messaging"] = 2
        return ["from the old generation"]

    stamped.read("hot:test", ["messaging"], compute_while_switching)
    assert world.cache.get("hot:test") is None


def test_the_latest_page_from_the_cache_pages_on_into_the_store_without_gap(
    world: ProjectedWorld,
) -> None:
    ada = world.person("ada")
    group = world.group(ada)
    for i in range(130):
        world.send(group, ada, f"m{i}")
    reader, conversation = str(ada.id), str(group.id)
    first = world.messaging.messages(conversation, reader, 40, None)
    assert world.cache.get(latest_key(conversation)) is not None
    seqs = [m["seq"] for m in first.documents]
    after = first.next_after
    while after is not None:
        page = world.messaging.messages(conversation, reader, 40, after)
        seqs += [m["seq"] for m in page.documents]
        after = page.next_after
    assert seqs == list(range(130, 0, -1))
    world.cache.delete([latest_key(conversation)])
    assert world.messaging.messages(conversation, reader, 40, None, token=world.position) \
        .next_after == first.next_after == [91, first.documents[-1]["message_id"]]


def test_conversation_list_pages_follow_activity_without_gap(world: ProjectedWorld) -> None:
    ada = world.person("ada")
    groups = [world.group(ada) for _ in range(7)]
    for group in reversed(groups):
        world.send(group, ada, "latest activity")
    reader, listed, after = str(ada.id), [], None
    while True:
        page = world.messaging.conversations(reader, 3, after)
        listed += [c["conversation_id"] for c in page.documents]
        after = page.next_after
        if after is None:
            break
    assert listed == [str(g.id) for g in groups]
