"""Messaging: conversations, groups and invitations, messages, receipts, attachments, the
sync feed and live sockets."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from commands.messaging.attachments import ATTACHMENT_HANDLERS, AttachmentExpiry, AttachmentPurge
from commands.messaging.conversations import (
    OpenDirectConversation,
    SendMessage,
    open_direct_conversation,
    send_message,
)
from commands.messaging.groups import GROUP_HANDLERS
from commands.messaging.messages import MESSAGE_HANDLERS
from commands.messaging.read_markers import READ_MARKER_HANDLERS
from commands.processes.schedules import Schedule
from parley.contexts.manifest import BoundedContext, PlacedRouter, ScheduleParts
from projections.messaging import attachments, invitations
from projections.messaging.attachments import DueUploadsQuery
from projections.messaging.conversations import MessagingProjector
from projections.messaging.feed import FeedProjector, FeedQueries
from projections.messaging.invitations import InvitationQueries
from projections.messaging.queries import MessagingQueries
from projections.read_model.runner import Projector

if TYPE_CHECKING:
    from api.http.problems import ProblemRefinement


def projectors() -> Sequence[Projector]:
    return [MessagingProjector(), FeedProjector(), *attachments.projectors(),
            *invitations.projectors()]


def schedules(parts: ScheduleParts) -> Sequence[Schedule]:
    """A process holding the writer also expires the uploads never sent."""
    if parts.execute is None or parts.store is None:
        return ()
    settings = parts.settings
    expiry = AttachmentExpiry(DueUploadsQuery(parts.store), parts.execute,
                              timedelta(seconds=settings.unattached_upload_ttl_seconds),
                              parts.clock)
    return (expiry.schedule(settings.attachment_sweep_every_seconds),)


def routers() -> Sequence[PlacedRouter]:
    from api.messaging import attachments, conversations, groups, messages, receipts, search, sync

    return tuple(PlacedRouter(place, module.router) for place, module in (
        (20, conversations), (30, groups), (40, messages), (50, receipts), (60, search),
        (70, sync), (80, attachments)))


def problems() -> Sequence[ProblemRefinement[Any]]:
    from api.messaging import problems as answers

    return answers.problems()


CONTEXT = BoundedContext(
    name="messaging",
    handlers={
        OpenDirectConversation: open_direct_conversation,
        SendMessage: send_message,
        **ATTACHMENT_HANDLERS,
        **GROUP_HANDLERS,
        **MESSAGE_HANDLERS,
        **READ_MARKER_HANDLERS,
    },
    projectors=projectors,
    relayed_event_modules=(
        "domain.messaging.conversations",
        "domain.messaging.messages",
        "domain.messaging.read_markers",
        "domain.messaging.attachments",
        "domain.messaging.invitations",
    ),
    log_only_event_modules=("domain.messaging.upload_quota",),  # write-side bookkeeping
    former_event_modules={
        "domain.conversations": "domain.messaging.conversations",
        "domain.messages": "domain.messaging.messages",
        "domain.read_markers": "domain.messaging.read_markers",
        "domain.attachments": "domain.messaging.attachments",
        "domain.upload_quota": "domain.messaging.upload_quota",
        "domain.invitations": "domain.messaging.invitations",
    },
    queries=(MessagingQueries, FeedQueries, InvitationQueries, DueUploadsQuery),
    routers=routers,
    problems=problems,
    process_managers=(AttachmentPurge(),),
    schedules=schedules,
    settings=(
        "direct_id_key", "group_member_limit", "max_pending_group_invitations",
        "max_edits_per_message", "send_rate_per_second", "send_burst",
        "typing_rate_per_second", "typing_burst", "max_sockets_per_user", "max_frame_bytes",
        "blob_dir", "max_attachment_bytes", "max_unattached_uploads",
        "max_unattached_upload_bytes", "unattached_upload_ttl_seconds",
        "attachment_sweep_every_seconds", "attachment_content_types",
    ),
)
