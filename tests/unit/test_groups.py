"""Group rules: roles, limits and the invariants every sequence of commands keeps."""

from __future__ import annotations

import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from domain.errors import DomainError, NotAllowed
from domain.messaging.conversations import ADMIN, MEMBER, OWNER, Conversation
from domain.messaging.errors import ConversationNotFound, GroupFull, NotAMember, TooManyInvitations
from domain.messaging.invitations import GroupInvitations
from tests.builders import DIRECT_ID_KEY, a_cause, now


def a_group(size: int = 3, limit: int = 10) -> tuple[Conversation, list[uuid.UUID]]:
    people = [uuid.uuid4() for _ in range(size)]
    group = Conversation.create_group(uuid.uuid4(), people[0], "Club", tuple(people[1:]), limit,
                                      a_cause(people[0]))
    return group, people


def test_the_creator_owns_the_group_and_the_rest_are_members() -> None:
    group, (owner, *others) = a_group()
    assert group.role_of(owner) == OWNER
    assert {group.role_of(o) for o in others} == {MEMBER}


def test_a_group_never_exceeds_its_member_limit() -> None:
    with pytest.raises(GroupFull):
        a_group(size=4, limit=3)
    group, (owner, *_) = a_group(size=3, limit=3)
    with pytest.raises(GroupFull):
        group.add_members(owner, (uuid.uuid4(),), 3, a_cause(owner))


def test_members_cannot_manage_and_admins_cannot_remove_admins() -> None:
    group, (owner, ada, bob) = a_group()
    with pytest.raises(NotAllowed):
        group.rename(ada, "Mine", a_cause(ada))
    group.set_role(owner, ada, ADMIN, a_cause(owner))
    group.set_role(owner, bob, ADMIN, a_cause(owner))
    with pytest.raises(NotAllowed):
        group.remove_member(ada, bob, a_cause(ada))
    group.remove_member(owner, bob, a_cause(owner))
    assert not group.is_member(bob)


def test_the_owner_hands_over_before_leaving() -> None:
    group, (owner, ada, _) = a_group()
    with pytest.raises(NotAllowed):
        group.leave(owner, a_cause(owner))
    group.transfer_ownership(owner, ada, a_cause(owner))
    assert (group.role_of(ada), group.role_of(owner)) == (OWNER, ADMIN)
    group.leave(owner, a_cause(owner))
    assert not group.is_member(owner)


def test_a_removed_member_can_no_longer_send() -> None:
    group, (owner, ada, _) = a_group()
    group.remove_member(owner, ada, a_cause(owner))
    with pytest.raises(NotAMember):
        group.send_message(uuid.uuid4(), ada, "hi", now(), a_cause(ada))


def test_direct_conversations_have_no_membership_changes() -> None:
    ada, bob = uuid.uuid4(), uuid.uuid4()
    direct = Conversation.open_direct(ada, bob, DIRECT_ID_KEY, a_cause(ada))
    with pytest.raises(NotAllowed):
        direct.leave(ada, a_cause(ada))
    with pytest.raises(NotAllowed):
        direct.add_members(ada, (uuid.uuid4(),), 10, a_cause(ada))


COMMANDS = st.lists(st.tuples(
    st.sampled_from(["add", "remove", "leave", "promote", "demote", "transfer"]),
    st.integers(0, 5), st.integers(0, 5)), max_size=30)


@given(COMMANDS)
def test_any_sequence_of_commands_keeps_one_owner_among_the_members(
    commands: list[tuple[str, int, int]],
) -> None:
    group, people = a_group(size=3, limit=5)
    people += [uuid.uuid4() for _ in range(3)]
    for name, actor_index, target_index in commands:
        actor, target = people[actor_index], people[target_index]
        try:
            match name:
                case "add":
                    group.add_members(actor, (target,), 5, a_cause(actor))
                case "remove":
                    group.remove_member(actor, target, a_cause(actor))
                case "leave":
                    group.leave(actor, a_cause(actor))
                case "promote" | "demote":
                    role = ADMIN if name == "promote" else MEMBER
                    group.set_role(actor, target, role, a_cause(actor))
                case "transfer":
                    group.transfer_ownership(actor, target, a_cause(actor))
        except DomainError:
            pass
        members = set(group.member_ids)
        assert len(members) == len(group.member_ids) <= 5
        assert not members or group.owner_id in members
        assert set(group.admin_ids) <= members and group.owner_id not in group.admin_ids


def test_an_invitee_has_at_most_the_configured_pending_invitations_and_answers_once() -> None:
    eve, ada = uuid.uuid4(), uuid.uuid4()
    invitations = GroupInvitations.start(eve, a_cause(eve))
    first, second = uuid.uuid4(), uuid.uuid4()
    assert invitations.receive(first, ada, "Club", now(), 2, a_cause(ada))
    assert not invitations.receive(first, ada, "Club", now(), 2, a_cause(ada)), "pending"
    assert invitations.receive(second, ada, "Team", now(), 2, a_cause(ada))
    with pytest.raises(TooManyInvitations):
        invitations.receive(uuid.uuid4(), ada, "Third", now(), 2, a_cause(ada))
    invitations.decline(first, now(), a_cause(eve))
    with pytest.raises(ConversationNotFound):
        invitations.accept(first, now(), a_cause(eve))
    invitations.accept(second, now(), a_cause(eve))
    assert invitations.pending == {}
