"""Group invitations: people who are not the adder's contacts join a group only if they accept.

Adding a contact to a group is immediate; anyone else is invited, and sees nothing of the
group but its title and who invited them until they accept. Each person's pending invitations
are one aggregate, so their number is capped however many groups invite them at once.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid5

from domain.messaging.errors import ConversationNotFound, TooManyInvitations
from event_log.aggregate import Cause, ParleyAggregate

INVITATIONS_NAMESPACE = UUID("d17c3a58-0e94-4b2f-8a61-5c9e2f7b40d3")
DEFAULT_MAX_PENDING_INVITATIONS = 20


def invitations_id(invitee_id: UUID) -> UUID:
    return uuid5(INVITATIONS_NAMESPACE, str(invitee_id))


class GroupInvitations(ParleyAggregate):
    """The groups one person was invited to and has not answered yet."""

    def __init__(self, invitee_id: UUID) -> None:
        self.invitee_id = invitee_id
        self.pending: dict[str, str] = {}  # group id -> inviter id (str: a snapshot is JSON)

    class Started(ParleyAggregate.Created):
        invitee_id: UUID

    class InvitationReceived(ParleyAggregate.Event):
        conversation_id: UUID
        invitee_id: UUID
        inviter_id: UUID
        title: str
        invited_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, GroupInvitations)
            aggregate.pending[str(self.conversation_id)] = str(self.inviter_id)

    class InvitationAccepted(ParleyAggregate.Event):
        conversation_id: UUID
        invitee_id: UUID
        answered_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, GroupInvitations)
            aggregate.pending.pop(str(self.conversation_id), None)

    class InvitationDeclined(ParleyAggregate.Event):
        conversation_id: UUID
        invitee_id: UUID
        answered_at: datetime

        def apply(self, aggregate: ParleyAggregate) -> None:
            assert isinstance(aggregate, GroupInvitations)
            aggregate.pending.pop(str(self.conversation_id), None)

    @classmethod
    def start(cls, invitee_id: UUID, cause: Cause) -> GroupInvitations:
        return cls._create(cls.Started, id=invitations_id(invitee_id), invitee_id=invitee_id,
                           **cause.as_event_fields())

    def is_invited_to(self, conversation_id: UUID) -> bool:
        return str(conversation_id) in self.pending

    def receive(self, conversation_id: UUID, inviter_id: UUID, title: str, at: datetime,
                max_pending: int, cause: Cause) -> bool:
        """Record an invitation; returns False (and records nothing) if one is pending."""
        if self.is_invited_to(conversation_id):
            return False
        if len(self.pending) >= max_pending:
            raise TooManyInvitations(
                "member_ids", f"this person already has {max_pending} pending group "
                              "invitations; they must answer some first")
        self.trigger_event(self.InvitationReceived, conversation_id=conversation_id,
                           invitee_id=self.invitee_id, inviter_id=inviter_id, title=title,
                           invited_at=at, **cause.as_event_fields())
        return True

    def _require_pending(self, conversation_id: UUID) -> None:
        # Not invited (never, or answered already): the group does not exist for them.
        if not self.is_invited_to(conversation_id):
            raise ConversationNotFound("conversation_id", "no such conversation")

    def accept(self, conversation_id: UUID, at: datetime, cause: Cause) -> None:
        self._require_pending(conversation_id)
        self.trigger_event(self.InvitationAccepted, conversation_id=conversation_id,
                           invitee_id=self.invitee_id, answered_at=at, **cause.as_event_fields())

    def decline(self, conversation_id: UUID, at: datetime, cause: Cause) -> None:
        self._require_pending(conversation_id)
        self.trigger_event(self.InvitationDeclined, conversation_id=conversation_id,
                           invitee_id=self.invitee_id, answered_at=at, **cause.as_event_fields())
