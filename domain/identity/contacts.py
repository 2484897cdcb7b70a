"""Contacts between two people (friend requests, friendship) and each person's blocklist.

A pair has one `Contact` whose state is one of: no relationship, a pending request from one
of them, or friendship. A request to someone who already asked you accepts theirs.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from domain.errors import Conflict, InvalidCommand, NotAllowed, NotFound
from event_log.aggregate import Cause, ParleyAggregate, copied, values

CONTACT_NAMESPACE = UUID("5b7d2e91-3c48-4f0a-b6e2-9d1c7a4f8e23")
BLOCKLIST_NAMESPACE = UUID("e1c94b6a-7d25-4e83-a0f9-3b5d8c2e6f17")

NO_CONTACT = "none"
REQUESTED = "requested"
FRIENDS = "friends"


class ContactBlocked(NotAllowed):
    """One of the two blocked the other: they cannot reach each other (403, either way)."""


class FriendRequestNotFound(NotFound):
    """No pending friend request between these two, in that direction."""


class NotFriends(NotFound):
    """The two are not friends."""


class AlreadyFriends(Conflict):
    """The two are friends already."""


class NotBlocked(NotFound):
    """The caller has not blocked this user."""


class CannotBefriendSelf(InvalidCommand):
    """Contacts and blocks are between two different people."""


def contact_id(first: UUID, second: UUID) -> UUID:
    """The same pair always shares one contact, whoever asked first."""
    low, high = sorted((first, second))
    return uuid5(CONTACT_NAMESPACE, f"{low}:{high}")


def blocklist_id(owner_id: UUID) -> UUID:
    return uuid5(BLOCKLIST_NAMESPACE, str(owner_id))


def require_two_people(first: UUID, second: UUID) -> None:
    if first == second:
        raise CannotBefriendSelf("user_id", "contacts and blocks need two different people")


class Contact(ParleyAggregate):
    """The relationship of a pair: none, a pending request (by `requester_id`), or friends."""

    def __init__(self, user_ids: list[UUID]) -> None:
        self.user_ids = sorted(user_ids)
        self.state = NO_CONTACT
        self.requester_id: UUID | None = None

    class Started(ParleyAggregate.Created):
        user_ids: list[UUID]

    class FriendRequested(ParleyAggregate.Event):
        requester_id: UUID
        addressee_id: UUID
        at: datetime
        copies = copied("requester_id")
        sets = values(state=REQUESTED)

    class FriendRequestAccepted(ParleyAggregate.Event):
        accepted_by: UUID
        requester_id: UUID
        at: datetime
        sets = values(state=FRIENDS, requester_id=None)

    class FriendRequestDeclined(ParleyAggregate.Event):
        declined_by: UUID
        requester_id: UUID
        at: datetime
        sets = values(state=NO_CONTACT, requester_id=None)

    class FriendRequestCancelled(ParleyAggregate.Event):
        cancelled_by: UUID
        addressee_id: UUID
        at: datetime
        sets = values(state=NO_CONTACT, requester_id=None)

    class Unfriended(ParleyAggregate.Event):
        unfriended_by: UUID
        friend_id: UUID
        at: datetime
        sets = values(state=NO_CONTACT, requester_id=None)

    @classmethod
    def start(cls, first: UUID, second: UUID, cause: Cause) -> Contact:
        require_two_people(first, second)
        return cls._create(cls.Started, id=contact_id(first, second),
                           user_ids=sorted((first, second)), **cause.as_event_fields())

    def other_than(self, user_id: UUID) -> UUID:
        low, high = self.user_ids
        return high if user_id == low else low

    def _require_party(self, user_id: UUID) -> None:
        if user_id not in self.user_ids:
            raise FriendRequestNotFound("user_id", "no such friend request")

    def request_friendship(self, requester_id: UUID, at: datetime, cause: Cause) -> bool:
        """Ask the other for friendship; returns True if something changed.

        Asking again while one's own request is pending changes nothing; asking someone whose
        request is pending accepts it.
        """
        self._require_party(requester_id)
        if self.state == FRIENDS:
            raise AlreadyFriends("user_id", "you are friends already")
        if self.state == REQUESTED:
            if self.requester_id == requester_id:
                return False
            self.accept(requester_id, at, cause)
            return True
        self.trigger_event(self.FriendRequested, requester_id=requester_id,
                           addressee_id=self.other_than(requester_id), at=at,
                           **cause.as_event_fields())
        return True

    def _require_request_to(self, addressee_id: UUID) -> None:
        self._require_party(addressee_id)
        if self.state != REQUESTED or self.requester_id == addressee_id:
            raise FriendRequestNotFound("user_id", "no such friend request")

    def accept(self, addressee_id: UUID, at: datetime, cause: Cause) -> None:
        self._require_request_to(addressee_id)
        self.trigger_event(self.FriendRequestAccepted, accepted_by=addressee_id,
                           requester_id=self.other_than(addressee_id), at=at,
                           **cause.as_event_fields())

    def decline(self, addressee_id: UUID, at: datetime, cause: Cause) -> None:
        self._require_request_to(addressee_id)
        self.trigger_event(self.FriendRequestDeclined, declined_by=addressee_id,
                           requester_id=self.other_than(addressee_id), at=at,
                           **cause.as_event_fields())

    def cancel(self, requester_id: UUID, at: datetime, cause: Cause) -> None:
        self._require_party(requester_id)
        if self.state != REQUESTED or self.requester_id != requester_id:
            raise FriendRequestNotFound("user_id", "no such friend request")
        self.trigger_event(self.FriendRequestCancelled, cancelled_by=requester_id,
                           addressee_id=self.other_than(requester_id), at=at,
                           **cause.as_event_fields())

    def unfriend(self, user_id: UUID, at: datetime, cause: Cause) -> None:
        self._require_party(user_id)
        if self.state != FRIENDS:
            raise NotFriends("user_id", "you are not friends")
        self.trigger_event(self.Unfriended, unfriended_by=user_id,
                           friend_id=self.other_than(user_id), at=at, **cause.as_event_fields())

    def sever(self, by_user_id: UUID, at: datetime, cause: Cause) -> None:
        """End whatever the pair had (a block does this): unfriend, cancel or decline."""
        if self.state == FRIENDS:
            self.unfriend(by_user_id, at, cause)
        elif self.state == REQUESTED and self.requester_id == by_user_id:
            self.cancel(by_user_id, at, cause)
        elif self.state == REQUESTED:
            self.decline(by_user_id, at, cause)


class Blocklist(ParleyAggregate):
    """The people one user has blocked."""

    def __init__(self, owner_id: UUID) -> None:
        self.owner_id = owner_id
        self.blocked_ids: set[UUID] = set()

    class Started(ParleyAggregate.Created):
        owner_id: UUID

    class UserBlocked(ParleyAggregate.Event):
        blocker_id: UUID
        blocked_id: UUID
        at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Blocklist)
            aggregate.blocked_ids.add(self.blocked_id)

    class UserUnblocked(ParleyAggregate.Event):
        blocker_id: UUID
        unblocked_id: UUID
        at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, Blocklist)
            aggregate.blocked_ids.discard(self.unblocked_id)

    @classmethod
    def start(cls, owner_id: UUID, cause: Cause) -> Blocklist:
        return cls._create(cls.Started, id=blocklist_id(owner_id), owner_id=owner_id,
                           **cause.as_event_fields())

    def has_blocked(self, user_id: UUID) -> bool:
        return user_id in self.blocked_ids

    def block(self, user_id: UUID, at: datetime, cause: Cause) -> bool:
        """Returns False (and records nothing) if already blocked."""
        require_two_people(self.owner_id, user_id)
        if user_id in self.blocked_ids:
            return False
        self.trigger_event(self.UserBlocked, blocker_id=self.owner_id, blocked_id=user_id, at=at,
                           **cause.as_event_fields())
        return True

    def unblock(self, user_id: UUID, at: datetime, cause: Cause) -> None:
        if user_id not in self.blocked_ids:
            raise NotBlocked("user_id", "this user is not blocked")
        self.trigger_event(self.UserUnblocked, blocker_id=self.owner_id, unblocked_id=user_id,
                           at=at, **cause.as_event_fields())
