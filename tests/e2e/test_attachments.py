"""Attachments over HTTP: raw uploads streamed to the blob store, downloads by the uploader."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import pytest

from parley.launcher import ParleyProcesses
from tests.builders import AttachmentClient, ParleyClient, a_file, answer_of, in_chunks
from tests.e2e.conftest import PROFILES

LIMIT = 100_000
SMALL_LIMIT = pytest.mark.parley_env(PARLEY_MAX_ATTACHMENT_BYTES=str(LIMIT))


def stored_blobs(processes: ParleyProcesses) -> list[Path]:
    root = Path(processes.env["PARLEY_DATA_DIR"]) / "blobs"
    return [p for p in root.rglob("*") if p.is_file()]


@PROFILES
def test_an_upload_comes_back_byte_for_byte_to_its_uploader(parley: ParleyClient) -> None:
    attachments = AttachmentClient(parley)
    ada = parley.register("Ada")
    data = a_file("image/png", 300_000)  # far beyond the 64 KiB limit of JSON bodies

    uploaded = attachments.uploaded(ada, data, "image/png")

    assert uploaded["size"] == len(data)
    assert uploaded["sha256"] == hashlib.sha256(data).hexdigest()
    assert uploaded["content_type"] == "image/png"
    downloaded = attachments.download(ada, uploaded["attachment_id"], uploaded["position"])
    assert downloaded.status_code == 200, downloaded.text
    assert downloaded.content == data
    assert hashlib.sha256(downloaded.content).hexdigest() == uploaded["sha256"]
    assert downloaded.headers["content-type"] == "image/png"
    assert downloaded.headers["content-disposition"] == (
        f'attachment; filename="{uploaded["attachment_id"]}.png"')
    assert downloaded.headers["x-content-type-options"] == "nosniff"


@PROFILES
def test_a_streamed_upload_without_content_length_is_stored_whole(parley: ParleyClient) -> None:
    attachments = AttachmentClient(parley)
    ada = parley.register("Ada")
    data = a_file("application/pdf", 500_001)

    response = attachments.upload(ada, in_chunks(data, 7_000), "application/pdf")

    assert response.status_code == 201, response.text
    uploaded = response.json()
    assert uploaded["sha256"] == hashlib.sha256(data).hexdigest()
    assert attachments.download(ada, uploaded["attachment_id"],
                                uploaded["position"]).content == data


@PROFILES
def test_nobody_else_can_tell_an_attachment_exists(parley: ParleyClient) -> None:
    attachments = AttachmentClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    uploaded = attachments.uploaded(ada, a_file("image/jpeg", 5_000), "image/jpeg")

    by_bob = attachments.download(bob, uploaded["attachment_id"], uploaded["position"])
    missing = attachments.download(bob, str(uuid.uuid4()), uploaded["position"])
    anonymous = parley.http.get(f"/v1/attachments/{uploaded['attachment_id']}")

    assert (by_bob.status_code, missing.status_code, anonymous.status_code) == (404, 404, 401)
    assert by_bob.headers["content-type"] == "application/problem+json"
    assert answer_of(by_bob) == answer_of(missing)  # byte for byte, but the request's id


@PROFILES
@SMALL_LIMIT
def test_oversize_uploads_get_413_and_leave_no_bytes(parley: ParleyClient,
                                                     processes: ParleyProcesses) -> None:
    attachments = AttachmentClient(parley)
    ada = parley.register("Ada")
    too_big = a_file("image/png", LIMIT + 20_000)

    streamed = attachments.upload(ada, in_chunks(too_big, 4096), "image/png")
    declared = attachments.upload(ada, too_big, "image/png")
    at_limit = attachments.upload(ada, too_big[:LIMIT], "image/png")

    assert (streamed.status_code, declared.status_code, at_limit.status_code) == (413, 413, 201)
    assert streamed.headers["content-type"] == "application/problem+json"
    assert len(stored_blobs(processes)) == 1


@PROFILES
def test_disallowed_or_disguised_content_is_refused(parley: ParleyClient,
                                                    processes: ParleyProcesses) -> None:
    attachments = AttachmentClient(parley)
    ada = parley.register("Ada")
    program = b"MZ\x90\x00" + bytes(5_000)

    answers = {
        "not allowed": attachments.upload(ada, program, "application/x-msdownload"),
        "html": attachments.upload(ada, b"<script>alert(1)</script>", "text/html"),
        "no type": parley.http.post("/v1/attachments", content=program, headers=ada.auth),
        "disguised": attachments.upload(ada, program, "image/png"),
        "disguised, streamed": attachments.upload(ada, in_chunks(program, 3), "image/gif"),
        "empty": attachments.upload(ada, b"", "text/plain"),
    }

    assert {name: r.status_code for name, r in answers.items()} == {
        "not allowed": 415, "html": 415, "no type": 415, "disguised": 422,
        "disguised, streamed": 422, "empty": 422}
    assert stored_blobs(processes) == []


@PROFILES
def test_a_retried_upload_with_its_key_is_one_attachment(parley: ParleyClient,
                                                         processes: ParleyProcesses) -> None:
    ada = parley.register("Ada")
    data = a_file("text/plain", 2_000)
    headers = ada.auth | {"content-type": "text/plain", "Idempotency-Key": "upload-1"}

    first = parley.http.post("/v1/attachments", content=data, headers=headers)
    retry = parley.http.post("/v1/attachments", content=data, headers=headers)

    assert (first.status_code, retry.status_code) == (201, 201), retry.text
    assert retry.json()["attachment_id"] == first.json()["attachment_id"]
    assert len(stored_blobs(processes)) == 1


@PROFILES
def test_other_commands_still_take_only_small_json_bodies(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    raw = parley.http.post("/v1/conversations/direct", content=a_file("image/png", 1_000),
                           headers=ada.auth | {"content-type": "image/png"})
    big = parley.http.post("/v1/conversations/direct", content=b" " * 70_000 + b"{}",
                           headers=ada.auth | {"content-type": "application/json"})
    assert (raw.status_code, big.status_code) == (415, 413)


def test_an_attachment_sent_in_a_message_is_readable_by_its_members_only(
    parley: ParleyClient,
) -> None:
    files = AttachmentClient(parley)
    ada, bob, eve = parley.register("Ada"), parley.register("Bob"), parley.register("Eve")
    chat = parley.open_direct(ada, bob)
    data = a_file("image/png", 3_000)
    uploaded = files.uploaded(ada, data, "image/png")
    before = files.download(bob, uploaded["attachment_id"], uploaded["position"])
    assert before.status_code == 404, "not shared yet"
    sent = parley.http.post(f"/v1/conversations/{chat}/messages", headers=ada.auth, json={
        "text": "", "attachment_ids": [uploaded["attachment_id"]]})
    assert sent.status_code == 201, sent.text
    position = sent.json()["position"]
    [message] = parley.all_messages(bob, chat, position)
    assert [a["attachment_id"] for a in message["attachments"]] == [uploaded["attachment_id"]]
    assert message["attachments"][0]["sha256"] == uploaded["sha256"]
    download = files.download(bob, uploaded["attachment_id"], position)
    assert download.status_code == 200 and download.content == data
    assert files.download(eve, uploaded["attachment_id"], position).status_code == 404
    only_mine = parley.http.post(f"/v1/conversations/{chat}/messages", headers=bob.auth, json={
        "text": "re-share", "attachment_ids": [uploaded["attachment_id"]]})
    assert only_mine.status_code == 404, "one shares only one's own uploads"
    assert parley.send(ada, chat, "").status_code == 422, "no text and nothing attached"
