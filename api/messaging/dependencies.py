"""What messaging's routes are given, typed and never None (built by the composition root)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends

from api.http.dependencies import ParleyDep, get_access_tokens
from api.http.rate_limits import RateLimiter
from api.messaging.live_socket import LiveParts
from commands.messaging.attachments import BlobStore
from domain.messaging.attachments import UploadPolicy
from domain.messaging.upload_quota import UploadQuota
from event_log.batch import Batch
from projections.messaging.attachments import AttachmentAccess, readable_attachment
from projections.messaging.feed import FeedQueries
from projections.messaging.invitations import InvitationQueries
from projections.messaging.queries import MessagingQueries
from projections.read_model.documents import ReadStore


@dataclass(frozen=True)
class MessagingLimits:
    """The limits messaging's commands are given (PARLEY_GROUP_MEMBER_LIMIT and the like)."""

    group_member_limit: int
    max_pending_group_invitations: int
    max_edits_per_message: int


@dataclass(frozen=True)
class Uploads:
    """What an upload is checked against, and a batch to read the caller's upload quota in."""

    policy: UploadPolicy
    quota: UploadQuota
    new_batch: Callable[[], Batch]


@dataclass(frozen=True)
class Downloads:
    """Attachments as their readers may see them."""

    store: ReadStore
    access: AttachmentAccess

    def readable(self, attachment_id: str, reader_id: str) -> dict[str, Any]:
        return readable_attachment(self.store, self.access, attachment_id, reader_id)


async def get_invitations(parley: ParleyDep) -> InvitationQueries:
    return parley.invitations


async def get_messaging(parley: ParleyDep) -> MessagingQueries:
    return parley.messaging


async def get_feed(parley: ParleyDep) -> FeedQueries:
    return parley.feed


async def get_blobs(parley: ParleyDep) -> BlobStore:
    return parley.blobs


async def get_downloads(parley: ParleyDep) -> Downloads:
    return Downloads(parley.store, parley.attachment_access)


async def get_uploads(parley: ParleyDep) -> Uploads:
    repository = parley.event_log.repository
    return Uploads(parley.upload_policy, parley.upload_quota, lambda: Batch(repository))


async def get_send_limiter(parley: ParleyDep) -> RateLimiter:
    return parley.send_limiter


async def get_direct_id_key(parley: ParleyDep) -> bytes:
    return parley.direct_id_key


async def get_limits(parley: ParleyDep) -> MessagingLimits:
    settings = parley.settings
    return MessagingLimits(settings.group_member_limit, settings.max_pending_group_invitations,
                           settings.max_edits_per_message)


Invitations = Annotated[InvitationQueries, Depends(get_invitations)]
Messaging = Annotated[MessagingQueries, Depends(get_messaging)]
Feed = Annotated[FeedQueries, Depends(get_feed)]
Blobs = Annotated[BlobStore, Depends(get_blobs)]
AttachmentReaders = Annotated[Downloads, Depends(get_downloads)]
SendLimiter = Annotated[RateLimiter, Depends(get_send_limiter)]
DirectIdKey = Annotated[bytes, Depends(get_direct_id_key)]
Limits = Annotated[MessagingLimits, Depends(get_limits)]
UploadsDep = Annotated[Uploads, Depends(get_uploads)]


async def get_live_parts(parley: ParleyDep) -> LiveParts:
    settings = parley.settings
    return LiveParts(await get_access_tokens(parley), parley.gate, parley.messaging, parley.feed,
                     parley.live, parley.presence, parley.presence_audience,
                     parley.typing_limiter, parley.event_log.recorder.max_notification_id,
                     settings.max_frame_bytes, settings.max_sockets_per_user)


LivePartsDep = Annotated[LiveParts, Depends(get_live_parts)]
