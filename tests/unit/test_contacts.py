"""Contacts and blocks: the friend-request state machine, blocklists and their read models."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError
from domain.identity.contacts import (
    FRIENDS,
    NO_CONTACT,
    REQUESTED,
    AlreadyFriends,
    Blocklist,
    CannotBefriendSelf,
    Contact,
    FriendRequestNotFound,
    NotBlocked,
    NotFriends,
)
from projections.identity.contacts import BLOCKS, CONTACTS, ContactsProjector
from tests.builders import a_cause, now

ADA, BOB = uuid.uuid4(), uuid.uuid4()
ACTIONS = st.lists(st.tuples(st.sampled_from(["request", "accept", "decline", "cancel",
                                              "unfriend", "sever"]),
                             st.sampled_from([ADA, BOB])), max_size=30)


def act(contact: Contact, action: str, actor: uuid.UUID) -> None:
    cause = a_cause(actor)
    if action == "request":
        contact.request_friendship(actor, now(), cause)
    else:
        getattr(contact, action)(actor, now(), cause)


def expected(state: str, requester: uuid.UUID | None, action: str,
             actor: uuid.UUID) -> tuple[str, uuid.UUID | None] | None:
    """The reference model: the next (state, requester), or None if the action is refused."""
    if action == "request":
        if state == FRIENDS:
            return None
        if state == REQUESTED:
            return (REQUESTED, requester) if requester == actor else (FRIENDS, None)
        return REQUESTED, actor
    if action in ("accept", "decline"):
        if state != REQUESTED or requester == actor:
            return None
        return (FRIENDS, None) if action == "accept" else (NO_CONTACT, None)
    if action == "cancel":
        return (NO_CONTACT, None) if state == REQUESTED and requester == actor else None
    if action == "unfriend":
        return (NO_CONTACT, None) if state == FRIENDS else None
    return NO_CONTACT, None  # sever ends whatever there was


def views(events: list[Any]) -> dict[str, str]:
    """Fold the projector's upserts into the final `state` of each contacts document."""
    documents: dict[str, str] = {}
    for position, event in enumerate(events, start=1):
        for change in ContactsProjector().changes(event, position):
            assert change.collection == CONTACTS
            documents[change.doc_id] = change.fields["state"]
    return documents


@given(ACTIONS)
def test_the_contact_state_machine_follows_its_model_and_both_views_agree(
    actions: list[tuple[str, uuid.UUID]],
) -> None:
    contact = Contact.start(ADA, BOB, a_cause(ADA))
    state, requester = NO_CONTACT, None
    for action, actor in actions:
        before = len(contact.pending_events)
        following = expected(state, requester, action, actor)
        if following is None:
            with pytest.raises(DomainError):
                act(contact, action, actor)
            assert len(contact.pending_events) == before, "a refused action recorded something"
            continue
        act(contact, action, actor)
        state, requester = following
        assert (contact.state, contact.requester_id) == (state, requester)
    seen = views(contact.collect_events())
    ada_sees, bob_sees = seen.get(f"{ADA}:{BOB}", "none"), seen.get(f"{BOB}:{ADA}", "none")
    mirror = {"friend": "friend", "none": "none", "incoming": "outgoing", "outgoing": "incoming"}
    assert mirror[ada_sees] == bob_sees
    assert ada_sees == {FRIENDS: "friend", NO_CONTACT: "none"}.get(
        state, "outgoing" if requester == ADA else "incoming")


def test_refusals_name_what_is_wrong() -> None:
    contact = Contact.start(ADA, BOB, a_cause(ADA))
    with pytest.raises(FriendRequestNotFound):
        contact.accept(BOB, now(), a_cause(BOB))
    with pytest.raises(NotFriends):
        contact.unfriend(ADA, now(), a_cause(ADA))
    contact.request_friendship(ADA, now(), a_cause(ADA))
    contact.accept(BOB, now(), a_cause(BOB))
    with pytest.raises(AlreadyFriends):
        contact.request_friendship(BOB, now(), a_cause(BOB))
    with pytest.raises(FriendRequestNotFound):
        contact.request_friendship(uuid.uuid4(), now(), a_cause())  # not one of the pair
    with pytest.raises(CannotBefriendSelf):
        Contact.start(ADA, ADA, a_cause(ADA))


@given(st.lists(st.tuples(st.booleans(), st.sampled_from(range(4))), max_size=30))
def test_a_blocklist_holds_exactly_who_is_blocked_and_so_does_its_read_model(
    moves: list[tuple[bool, int]],
) -> None:
    people = [uuid.uuid4() for _ in range(4)]
    owner = uuid.uuid4()
    blocklist = Blocklist.start(owner, a_cause(owner))
    model: set[uuid.UUID] = set()
    for blocking, index in moves:
        someone = people[index]
        if blocking:
            assert blocklist.block(someone, now(), a_cause(owner)) == (someone not in model)
            model.add(someone)
        elif someone in model:
            blocklist.unblock(someone, now(), a_cause(owner))
            model.discard(someone)
        else:
            with pytest.raises(NotBlocked):
                blocklist.unblock(someone, now(), a_cause(owner))
    assert blocklist.blocked_ids == model
    documents: dict[str, Any] = {}
    for position, event in enumerate(blocklist.collect_events(), start=1):
        for change in ContactsProjector().changes(event, position):
            assert change.collection == BLOCKS
            documents[change.doc_id] = change.fields
    projected = {d["user_id"] for d in documents.values() if d["state"] == "blocked"}
    assert projected == {str(p) for p in model}
    assert all(d["owner_id"] == str(owner) for d in documents.values())


def test_nobody_blocks_themselves() -> None:
    blocklist = Blocklist.start(ADA, a_cause(ADA))
    with pytest.raises(CannotBefriendSelf):
        blocklist.block(ADA, now(), a_cause(ADA))
