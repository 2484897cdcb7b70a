"""Commands about contacts and blocks, and the block check other commands call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from domain.errors import DomainError
from domain.identity.contacts import (
    FRIENDS,
    Blocklist,
    Contact,
    ContactBlocked,
    FriendRequestNotFound,
    NotBlocked,
    NotFriends,
    blocklist_id,
    contact_id,
    require_two_people,
)
from domain.identity.errors import UserNotFound
from domain.identity.users import User
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


def assert_not_blocked(batch: Batch, sender_id: UUID, recipient_id: UUID) -> None:
    """Raise ContactBlocked (403) if either of the two has blocked the other.

    Symmetric on purpose: the blocked person cannot reach the blocker, the blocker must unblock
    before reaching out, and the answer is the same both ways, so it does not tell who blocked.
    """
    for owner, other in ((recipient_id, sender_id), (sender_id, recipient_id)):
        blocklist = batch.find(Blocklist, blocklist_id(owner))
        if blocklist is not None and blocklist.has_blocked(other):
            raise ContactBlocked("user_id", "you cannot contact this user")


def are_contacts(batch: Batch, first: UUID, second: UUID) -> bool:
    """Whether the two are friends (each other's contacts) now."""
    contact = batch.find(Contact, contact_id(first, second))
    return contact is not None and contact.state == FRIENDS


@dataclass(frozen=True)
class RequestFriendship:
    requester_id: UUID
    addressee_id: UUID
    at: datetime


@dataclass(frozen=True)
class AnswerFriendRequest:
    """The addressee accepts or declines the request of `requester_id`."""

    addressee_id: UUID
    requester_id: UUID
    accept: bool
    at: datetime


@dataclass(frozen=True)
class CancelFriendRequest:
    requester_id: UUID
    addressee_id: UUID
    at: datetime


@dataclass(frozen=True)
class Unfriend:
    user_id: UUID
    friend_id: UUID
    at: datetime


@dataclass(frozen=True)
class BlockUser:
    blocker_id: UUID
    blocked_id: UUID
    at: datetime


@dataclass(frozen=True)
class UnblockUser:
    blocker_id: UUID
    blocked_id: UUID
    at: datetime


@dataclass(frozen=True)
class ContactUpdated:
    """How the relationship with `user_id` looks to the caller now (see `view_of`)."""

    user_id: UUID
    state: str


@dataclass(frozen=True)
class FriendshipRequested:
    """`new`: this request changed the relationship (not already pending, or accepting)."""

    user_id: UUID
    state: str
    new: bool


@dataclass(frozen=True)
class BlockRecorded:
    """`new`: the user was not blocked before."""

    user_id: UUID
    new: bool


@dataclass(frozen=True)
class BlockLifted:
    user_id: UUID


def _contact_now(contact: Contact, viewer_id: UUID) -> ContactUpdated:
    return ContactUpdated(contact.other_than(viewer_id), view_of(contact, viewer_id))


def view_of(contact: Contact, viewer_id: UUID) -> str:
    """How the relationship looks to one of the two: friend, incoming, outgoing or none."""
    if contact.state == "friends":
        return "friend"
    if contact.state == "requested":
        return "outgoing" if contact.requester_id == viewer_id else "incoming"
    return "none"


def _require_user(batch: Batch, user_id: UUID) -> None:
    if batch.find(User, user_id) is None:
        raise UserNotFound("user_id", "no such user")


def _existing(batch: Batch, first: UUID, second: UUID,
              missing: Callable[[], DomainError]) -> Contact:
    contact = batch.find(Contact, contact_id(first, second))
    if contact is None:
        raise missing()
    return contact


def _no_such_request() -> DomainError:
    return FriendRequestNotFound("user_id", "no such friend request")


def _not_friends() -> DomainError:
    return NotFriends("user_id", "you are not friends")


def request_friendship(batch: Batch, command: RequestFriendship,
                       cause: Cause) -> FriendshipRequested:
    require_two_people(command.requester_id, command.addressee_id)
    _require_user(batch, command.addressee_id)
    assert_not_blocked(batch, command.requester_id, command.addressee_id)
    contact = batch.find(Contact, contact_id(command.requester_id, command.addressee_id))
    if contact is None:
        contact = Contact.start(command.requester_id, command.addressee_id, cause)
        batch.add(contact)
    changed = contact.request_friendship(command.requester_id, command.at, cause)
    now = _contact_now(contact, command.requester_id)
    return FriendshipRequested(now.user_id, now.state, changed)


def answer_friend_request(batch: Batch, command: AnswerFriendRequest,
                          cause: Cause) -> ContactUpdated:
    contact = _existing(batch, command.addressee_id, command.requester_id,
                        _no_such_request)
    if command.accept:
        contact.accept(command.addressee_id, command.at, cause)
    else:
        contact.decline(command.addressee_id, command.at, cause)
    return _contact_now(contact, command.addressee_id)


def cancel_friend_request(batch: Batch, command: CancelFriendRequest,
                          cause: Cause) -> ContactUpdated:
    contact = _existing(batch, command.requester_id, command.addressee_id,
                        _no_such_request)
    contact.cancel(command.requester_id, command.at, cause)
    return _contact_now(contact, command.requester_id)


def unfriend(batch: Batch, command: Unfriend, cause: Cause) -> ContactUpdated:
    contact = _existing(batch, command.user_id, command.friend_id,
                        _not_friends)
    contact.unfriend(command.user_id, command.at, cause)
    return _contact_now(contact, command.user_id)


def block_user(batch: Batch, command: BlockUser, cause: Cause) -> BlockRecorded:
    """Block someone; whatever the pair had (friendship, a pending request) ends with it."""
    require_two_people(command.blocker_id, command.blocked_id)
    _require_user(batch, command.blocked_id)
    blocklist = batch.find(Blocklist, blocklist_id(command.blocker_id))
    if blocklist is None:
        blocklist = Blocklist.start(command.blocker_id, cause)
        batch.add(blocklist)
    changed = blocklist.block(command.blocked_id, command.at, cause)
    contact = batch.find(Contact, contact_id(command.blocker_id, command.blocked_id))
    if contact is not None:
        contact.sever(command.blocker_id, command.at, cause)
    return BlockRecorded(command.blocked_id, changed)


def unblock_user(batch: Batch, command: UnblockUser, cause: Cause) -> BlockLifted:
    blocklist = batch.find(Blocklist, blocklist_id(command.blocker_id))
    if blocklist is None:
        raise NotBlocked("user_id", "this user is not blocked")
    blocklist.unblock(command.blocked_id, command.at, cause)
    return BlockLifted(command.blocked_id)


CONTACT_HANDLERS: dict[type, Handler] = {
    RequestFriendship: request_friendship,
    AnswerFriendRequest: answer_friend_request,
    CancelFriendRequest: cancel_friend_request,
    Unfriend: unfriend,
    BlockUser: block_user,
    UnblockUser: unblock_user,
}
