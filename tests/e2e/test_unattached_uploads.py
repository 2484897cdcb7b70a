"""Uploads never sent in a message: a quota per person, and expiry that deletes their bytes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from parley.launcher import ParleyProcesses
from tests.builders import AttachmentClient, ParleyClient, Person, a_file
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES


def stored_blobs(processes: ParleyProcesses) -> set[str]:
    root = Path(processes.env["PARLEY_DATA_DIR"]) / "blobs"
    return {p.name for p in root.rglob("*") if p.is_file()}


def send_with(parley: ParleyClient, sender: Person, chat: str, attachment_id: str) -> int:
    sent = parley.http.post(f"/v1/conversations/{chat}/messages", headers=sender.auth,
                            json={"text": "look", "attachment_ids": [attachment_id]})
    return sent.status_code


@pytest.mark.parley_env(PARLEY_MAX_UNATTACHED_UPLOADS="2")
def test_unattached_uploads_are_limited_per_person_until_one_is_sent(
        parley: ParleyClient) -> None:
    files = AttachmentClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    first = files.uploaded(ada, a_file("image/png", 2000))
    files.uploaded(ada, a_file("image/png", 2000))
    refused = files.upload(ada, a_file("image/png", 2000))
    assert refused.status_code == 413, refused.text
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["title"] == "Upload quota exceeded"
    assert files.upload(bob, a_file("image/png", 2000)).status_code == 201, "per person"
    assert send_with(parley, ada, parley.open_direct(ada, bob), first["attachment_id"]) == 201
    assert files.upload(ada, a_file("image/png", 2000)).status_code == 201, "one was sent"


@pytest.mark.parley_env(PARLEY_MAX_UNATTACHED_UPLOAD_BYTES="5000")
def test_unattached_upload_bytes_are_limited_and_a_refused_upload_leaves_nothing(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    files = AttachmentClient(parley)
    ada = parley.register("Ada")
    files.uploaded(ada, a_file("image/png", 3000))
    refused = files.upload(ada, a_file("image/png", 3000))
    assert refused.status_code == 413 and refused.json()["title"] == "Upload quota exceeded"
    assert files.upload(ada, a_file("image/png", 2000)).status_code == 201, "what still fits"
    assert len(stored_blobs(processes)) == 2


@pytest.mark.parley_env(PARLEY_UNATTACHED_UPLOAD_TTL_SECONDS="1",
                        PARLEY_ATTACHMENT_SWEEP_EVERY_SECONDS="0.2",
                        PARLEY_MAX_UNATTACHED_UPLOADS="2")
def test_an_upload_never_sent_expires_and_its_bytes_are_deleted_but_a_sent_one_stays(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    files = AttachmentClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    forgotten = files.uploaded(ada, a_file("image/png", 2000))
    sent = files.uploaded(ada, a_file("image/png", 2000))
    assert send_with(parley, ada, chat, sent["attachment_id"]) == 201
    forgotten_blob = forgotten["attachment_id"].replace("-", "")
    deadline = time.monotonic() + 20
    while forgotten_blob in stored_blobs(processes) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert stored_blobs(processes) == {sent["attachment_id"].replace("-", "")}
    assert files.download(ada, forgotten["attachment_id"]).status_code == 404
    assert send_with(parley, ada, chat, forgotten["attachment_id"]) == 404, "expired"
    kept = files.download(bob, sent["attachment_id"])
    assert kept.status_code == 200 and kept.content
    for _ in range(2):  # the expired upload no longer counts against the quota
        assert files.upload(ada, a_file("image/png", 2000)).status_code == 201
