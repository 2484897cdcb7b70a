"""How the effects of Parley's own notification process managers reach their ports
(commands/notifications/reactions.py): presence for live sockets, the log for a conversation's
members, the engine for the address kinds its providers reach, the verification key."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError

from commands.notifications.preferences import category_policy
from commands.notifications.reactions import (
    Deployment,
    ReactionSettings,
    reaction_effects,
)
from commands.processes.issuing import Effect
from domain.messaging.conversations import Conversation
from domain.notifications.email_verification import EmailVerification
from event_log.log import EventLog
from event_log.writer import GroupCommitWriter
from parley.settings import Settings
from projections.identity.presence import PresenceStore


class PresenceSockets:
    """`LiveSockets` over the presence leases every live socket renews (memory or Redis:
    sockets on every process count)."""

    def __init__(self, presence: PresenceStore) -> None:
        self._presence = presence

    def open_for(self, user_id: UUID, now: datetime) -> bool:
        seen = self._presence.seen(str(user_id), now)
        return bool(seen and seen.get("online"))


class LoggedMembers:
    """A conversation's members now, read from its aggregate in the log."""

    def __init__(self, event_log: EventLog) -> None:
        self._event_log = event_log

    def __call__(self, conversation_id: UUID) -> Sequence[UUID]:
        try:
            conversation: object = self._event_log.repository.get(conversation_id)
        except AggregateNotFoundError:
            return ()
        return tuple(conversation.member_ids) if isinstance(conversation, Conversation) else ()


def own_notification_effects(settings: Settings, writer: GroupCommitWriter, *,
                             event_log: EventLog, presence: PresenceStore,
                             verification_key: bytes,
                             provided_kinds: Callable[[], frozenset[str] | None]
                             ) -> dict[type, Effect]:
    """`provided_kinds` is asked at each reaction: the engine (whose providers they are) is
    attached after the process managers, and None until then means the inbox only."""
    policy = category_policy(settings)

    def deployment() -> Deployment:
        kinds = provided_kinds()
        return Deployment(kinds if kinds is not None else Deployment().provided_kinds,
                          frozenset(settings.notification_categories), policy)

    return reaction_effects(
        writer.submit, deployment=deployment, sockets=PresenceSockets(presence),
        members=LoggedMembers(event_log),
        verification=EmailVerification(verification_key,
                                       settings.email_verification_ttl_seconds),
        settings=ReactionSettings(
            preview_chars=settings.message_preview_chars,
            message_email_fallback_seconds=settings.message_email_fallback_seconds,
            max_age_seconds=settings.own_notification_max_age_seconds,
            public_url=settings.public_url,
            message_digest_window_seconds=settings.message_digest_window_seconds),
        clock=lambda: datetime.now(UTC), timeout=writer.longest_answer_seconds)
