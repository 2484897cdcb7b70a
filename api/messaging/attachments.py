"""Attachments: upload the raw bytes (streamed into the blob store), download them back."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from api.http.dependencies import Commands, ConsistencyPosition, Gate, UserId, wait_for
from api.http.problems import QUERY_PROBLEMS, problem_responses
from api.messaging.answers import reply
from api.messaging.dependencies import AttachmentReaders, Blobs, UploadsDep
from commands.messaging.attachments import (
    BlobNotFound,
    BlobStore,
    RecordAttachment,
    store_upload,
    upload_room,
)
from domain.messaging.attachments import DEFAULT_CONTENT_TYPES, storage_key_for
from domain.messaging.errors import AttachmentNotFound
from projections.messaging.attachments import ATTACHMENTS

log = logging.getLogger(__name__)
router = APIRouter(tags=["attachments"])
UPLOAD_PATH = "/v1/attachments"
BINARY = {"schema": {"type": "string", "format": "binary"}}
# Where a media type has a usual file extension, the download's file name carries it.
EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/gif": "gif", "image/webp": "webp",
              "application/pdf": "pdf", "text/plain": "txt", "audio/mpeg": "mp3",
              "audio/ogg": "ogg", "video/mp4": "mp4"}


# Documented as the request body's media types instead of as a header parameter.
DeclaredType = Annotated[str | None, Header(alias="content-type", include_in_schema=False)]


class AttachmentUploaded(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [
        {"attachment_id": "10037ee8-e149-4c96-b778-2d732322202e", "content_type": "image/png",
         "size": 48213,
         "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
         "position": 1198}]})

    attachment_id: uuid.UUID
    content_type: Annotated[str, Field(examples=["image/png"])]
    size: Annotated[int, Field(examples=[48213], description="bytes")]
    sha256: Annotated[str, Field(examples=[
        "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"])]
    position: int


def blocking_chunks(stream: AsyncIterator[bytes]) -> Iterator[bytes]:
    """The request body chunk by chunk, for code running in a worker thread."""
    async def next_chunk() -> bytes | None:
        try:
            return await stream.__anext__()
        except StopAsyncIteration:
            return None

    while (chunk := anyio.from_thread.run(next_chunk)) is not None:
        if chunk:
            yield chunk


async def _discard(blobs: BlobStore, attachment_id: uuid.UUID) -> None:
    await anyio.to_thread.run_sync(blobs.delete, storage_key_for(attachment_id))


@router.post(
    UPLOAD_PATH, status_code=201, response_model=AttachmentUploaded,
    openapi_extra={"requestBody": {"required": True, "description": "The raw bytes",
                                    "content": {t: BINARY for t in DEFAULT_CONTENT_TYPES}}},
    summary="Upload an attachment",
    responses=problem_responses(401, 409, 503, described={
        413: "an attachment is at most 26214400 bytes (PARLEY_MAX_ATTACHMENT_BYTES); or "
             "'Upload quota exceeded': the caller holds as many uploads not yet sent in a "
             "message as they may (PARLEY_MAX_UNATTACHED_UPLOADS, "
             "PARLEY_MAX_UNATTACHED_UPLOAD_BYTES)",
        415: "attachments may be application/pdf, audio/mpeg, audio/ogg, image/gif, "
             "image/jpeg, image/png, image/webp, text/plain, video/mp4",
        422: "the content is not image/png (or the body is empty)"}),
)
async def upload(commands: Commands, blobs: Blobs, uploads: UploadsDep,
                 content_type: DeclaredType = None) -> AttachmentUploaded:
    """Upload one attachment as the raw request body, with its Content-Type.

    The body is streamed to storage as it arrives. Only the uploader can use or read the new
    attachment until it is sent in a message; one never sent expires after
    `PARLEY_UNATTACHED_UPLOAD_TTL_SECONDS` and its bytes are deleted.
    """
    policy, quota = uploads.policy, uploads.quota
    declared = policy.accept_type(content_type)
    room = await anyio.to_thread.run_sync(upload_room, uploads.new_batch(), commands.caller,
                                          quota)
    attachment_id = uuid.uuid4()
    stored = await anyio.to_thread.run_sync(store_upload, blobs, policy, attachment_id, declared,
                                            blocking_chunks(commands.request.stream()), room)
    command = RecordAttachment(attachment_id, commands.caller, declared, stored.size,
                               stored.sha256, datetime.now(UTC), quota)
    payload = {"content_type": declared, "size": stored.size, "sha256": stored.sha256}
    try:
        outcome = await commands.submit(command, payload)
    except Exception:
        await _discard(blobs, attachment_id)
        raise
    if outcome.replayed:
        # A retry: the first upload under this key is the attachment; these bytes are spare.
        await _discard(blobs, attachment_id)
    return reply(commands.response, outcome, AttachmentUploaded)


def _disposition(document: dict[str, Any]) -> str:
    extension = EXTENSIONS.get(document["content_type"], "bin")
    return f'attachment; filename="{document["attachment_id"]}.{extension}"'


@router.get(
    "/v1/attachments/{attachment_id}", response_class=StreamingResponse,
    summary="Download an attachment",
    responses=problem_responses(*QUERY_PROBLEMS, described={
        404: "no such attachment, or not one the caller may read"})
    | {200: {"description": "The bytes, with the type they were uploaded with",
             "content": {t: BINARY for t in DEFAULT_CONTENT_TYPES}}},
)
def download(attachment_id: uuid.UUID, gate: Gate, blobs: Blobs, readers: AttachmentReaders,
             caller: UserId, position: ConsistencyPosition = None) -> StreamingResponse:
    """Download an attachment: its uploader, or whoever messaging lets read it."""
    wait_for(gate, position, [ATTACHMENTS])
    document = readers.readable(str(attachment_id), str(caller))
    try:
        chunks = blobs.open(document["storage_key"])
    except BlobNotFound as error:
        log.error("attachment %s has no stored bytes", attachment_id)
        raise AttachmentNotFound("attachment_id", "no such attachment") from error
    # The type exactly as uploaded (media_type= would add a charset to text types).
    return StreamingResponse(chunks, headers={
        "Content-Type": document["content_type"],
        "Content-Length": str(document["size"]),
        "Content-Disposition": _disposition(document),
        "X-Content-Type-Options": "nosniff",
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=31536000, immutable",
        "ETag": f'"{document["sha256"]}"',
    })
