"""The read model of group invitations: each person's pending invitations, newest first."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.messaging.invitations import GroupInvitations
from projections.read_model.documents import Eq, Query, ReadStore, Upsert
from projections.read_model.runner import Projector

INVITATIONS = "group_invitations"
PENDING, ACCEPTED, DECLINED = "pending", "accepted", "declined"
MAX_LISTED = 200


def invitation_doc_id(event: Any) -> str:
    return f"{event.conversation_id}:{event.invitee_id}"


class InvitationsProjector:
    """One document per (group, invitee); answering it changes its state."""

    name = "invitations"
    context = "messaging"
    collections = (INVITATIONS,)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _received(self, event: GroupInvitations.InvitationReceived,
                  position: int) -> list[Upsert]:
        return [Upsert(INVITATIONS, invitation_doc_id(event), position, {
            "conversation_id": str(event.conversation_id), "invitee_id": str(event.invitee_id),
            "inviter_id": str(event.inviter_id), "title": event.title,
            "invited_at": event.invited_at.isoformat(), "state": PENDING, "position": position,
        })]

    @changes.register
    def _accepted(self, event: GroupInvitations.InvitationAccepted,
                  position: int) -> list[Upsert]:
        return [Upsert(INVITATIONS, invitation_doc_id(event), position, {"state": ACCEPTED})]

    @changes.register
    def _declined(self, event: GroupInvitations.InvitationDeclined,
                  position: int) -> list[Upsert]:
        return [Upsert(INVITATIONS, invitation_doc_id(event), position, {"state": DECLINED})]


def projectors() -> list[Projector]:
    return [InvitationsProjector()]


class InvitationQueries:
    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def pending_for(self, invitee_id: str) -> list[dict[str, Any]]:
        """The invitee's pending invitations, newest first."""
        page = self._store.query(Query(INVITATIONS, [Eq("invitee_id", invitee_id),
                                                     Eq("state", PENDING)],
                                       sort_field="position", limit=MAX_LISTED))
        return page.documents
