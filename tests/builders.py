"""Small builders for test data, and a client that speaks Parley's public HTTP API."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from commands.identity.accounts import RefreshToken, new_refresh_token
from commands.identity.api_keys import IssueApiKey, NewApiKey, new_api_key
from commands.identity.users import NewSession, RegisterUser
from commands.messaging.conversations import OpenDirectConversation, SendMessage
from domain.identity.users import user_id_for_handle
from event_log.aggregate import Cause
from event_log.writer import GroupCommitWriter
from parley.settings import Settings

DIRECT_ID_KEY = b"parley-tests-direct-conversation-ids"  # what the server's secret would key


PER_REQUEST_HEADERS = frozenset({"date", "x-request-id", "content-length"})


def answer_of(response: httpx.Response) -> tuple[int, dict[str, str], Any]:
    """An answer as compared byte for byte (e.g. for a non-member and for an id that does not
    exist): status, headers and body, without what differs per request (its id, the date)."""
    headers = {k: v for k, v in response.headers.items() if k not in PER_REQUEST_HEADERS}
    try:
        body: Any = response.json()
    except ValueError:
        return response.status_code, headers, response.content
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, headers, body


def a_handle(prefix: str = "u") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def a_cause(actor_id: uuid.UUID | None = None) -> Cause:
    return Cause(actor_id=actor_id or uuid.uuid4(), correlation_id=uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def embedded_settings(data_dir: Path) -> Settings:
    """The embedded profile with its data in `data_dir`, even where the services' variables
    are set (as they are for the production-profile tests)."""
    return Settings(database_url=None, data_dir=data_dir)


def embedded_log_env(directory: Path) -> dict[str, str]:
    """The `eventsourcing` library's own SQLite log in `directory`: none of what
    `event_log_env` adds (Parley's chained recorder, the aggregate cache)."""
    return {"PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(directory / "events.sqlite3")}


def a_session(user_id: uuid.UUID | None = None,
              name: str = "phone") -> tuple[NewSession, RefreshToken]:
    """A new device of `user_id` signing in for 30 days, and the refresh token it is given."""
    token = new_refresh_token(user_id or uuid.uuid4(), uuid.uuid4())
    return NewSession(token.device_id, name, token.digest, now(),
                      now() + timedelta(days=30)), token


def a_registration(name: str = "Ada") -> RegisterUser:
    """A registration under a fresh handle, without a password or a session."""
    return RegisterUser(a_handle(), name)


def a_registration_with_a_session(
    password_hash: str, device_name: str = "registration"
) -> tuple[RegisterUser, RefreshToken]:
    """A registration with a password and a first session, as `POST /v1/users` records it,
    and the session's refresh token (whose `user_id` is the new user's)."""
    handle = a_handle()
    session, token = a_session(user_id_for_handle(handle), device_name)
    return RegisterUser(handle, "Ada", password_hash, session), token


def an_api_key(*scopes: str, name: str = "billing service",
               max_live: int = 100) -> tuple[IssueApiKey, NewApiKey]:
    """The command issuing a fresh API key with `scopes` (default: notifications:trigger),
    and the key itself, as the service would present it (`.presented`)."""
    key = new_api_key()
    return IssueApiKey(key.key_id, name, scopes or ("notifications:trigger",), key.digest,
                       now(), "operator", max_live), key


def a_user(writer: GroupCommitWriter, name: str = "Ada") -> uuid.UUID:
    """The id of a user registered through `writer`."""
    registered: uuid.UUID = writer.execute(a_registration(name), a_cause()).result.user_id
    return registered


def a_direct_conversation(writer: GroupCommitWriter) -> tuple[uuid.UUID, uuid.UUID, uuid.UUID]:
    """Ada and Bob registered through `writer`, and the direct conversation Ada opened with
    Bob: (conversation, ada, bob)."""
    ada, bob = a_user(writer, "Ada"), a_user(writer, "Bob")
    opened = writer.execute(OpenDirectConversation(ada, bob, DIRECT_ID_KEY), a_cause(ada))
    return opened.result.conversation_id, ada, bob


def a_message(sender: uuid.UUID, conversation: uuid.UUID, text: str = "hi") -> SendMessage:
    """The command that `sender` sends `text` to `conversation` now, as a new message."""
    return SendMessage(conversation, sender, uuid.uuid4(), text, now())


@dataclass(frozen=True)
class Person:
    user_id: str
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


class ParleyClient:
    """The public API, as a member of the public would call it."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def register(self, name: str = "Ada Lovelace", handle: str | None = None,
                 password: str = "correct horse battery") -> Person:
        response = self.http.post("/v1/users", json={"handle": handle or a_handle(),
                                                     "name": name, "password": password})
        assert response.status_code == 201, response.text
        body = response.json()
        return Person(body["user_id"], body["handle"], body["access_token"])

    def befriend(self, first: Person, second: Person) -> int:
        """Make the two contacts (a request and its acceptance); returns the log position."""
        asked = self.http.post("/v1/contacts/requests", json={"user_id": second.user_id},
                               headers=first.auth)
        if asked.status_code == 409 and "friends already" in asked.text:
            return 0
        assert asked.status_code in (200, 201), asked.text
        if asked.json().get("state") == "friend":  # the other had asked already
            return int(asked.json()["position"])
        accepted = self.http.post(f"/v1/contacts/requests/{first.user_id}/accept",
                                  headers=second.auth)
        assert accepted.status_code == 200, accepted.text
        return int(accepted.json()["position"])

    def open_direct(self, opener: Person, peer: Person) -> str:
        response = self.http.post("/v1/conversations/direct", json={"peer_id": peer.user_id},
                                  headers=opener.auth)
        assert response.status_code in (200, 201), response.text
        return str(response.json()["conversation_id"])

    def send(self, sender: Person, conversation_id: str, text: str,
             headers: dict[str, str] | None = None) -> httpx.Response:
        return self.http.post(f"/v1/conversations/{conversation_id}/messages",
                              json={"text": text}, headers=sender.auth | (headers or {}))

    def sent(self, sender: Person, conversation_id: str, text: str) -> dict[str, Any]:
        response = self.send(sender, conversation_id, text)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def messages(self, reader: Person, conversation_id: str, **params: Any) -> httpx.Response:
        return self.http.get(f"/v1/conversations/{conversation_id}/messages",
                             params=params, headers=reader.auth)

    def search(self, reader: Person, words: str, **params: Any) -> httpx.Response:
        return self.http.get("/v1/search/messages", params={"q": words, **params},
                             headers=reader.auth)

    def all_messages(self, reader: Person, conversation_id: str,
                     position: int | None = None) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = []
        cursor = None
        while True:
            params: dict[str, Any] = {"limit": 200}
            if cursor:
                params["cursor"] = cursor
            if position and not found:
                params["position"] = position
            response = self.messages(reader, conversation_id, **params)
            assert response.status_code == 200, response.text
            page = response.json()
            found.extend(page["messages"])
            cursor = page["next_cursor"]
            if not cursor:
                return found


class GroupClient:
    """Group and message-life calls, on top of a ParleyClient."""

    def __init__(self, parley: ParleyClient) -> None:
        self.parley = parley
        self.http = parley.http

    def create(self, owner: Person, title: str, *members: Person) -> str:
        """A group of `owner` and `members`, who join at once: they become contacts first."""
        for member in members:
            self.parley.befriend(owner, member)
        response = self.http.post("/v1/groups", headers=owner.auth, json={
            "title": title, "member_ids": [m.user_id for m in members]})
        assert response.status_code == 201, response.text
        return str(response.json()["conversation_id"])

    def call(self, method: str, url: str, who: Person, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, url, headers=who.auth, **kwargs)

    def texts(self, reader: Person, conversation_id: str, position: int) -> list[str | None]:
        return [m["text"] for m in self.parley.all_messages(reader, conversation_id, position)]


FILE_HEADS = {
    "image/png": b"\x89PNG\r\n\x1a\n",
    "image/jpeg": b"\xff\xd8\xff\xe0",
    "image/gif": b"GIF89a",
    "image/webp": b"RIFF\x00\x00\x00\x00WEBP",
    "application/pdf": b"%PDF-1.7\n",
}


def a_file(content_type: str = "image/png", size: int = 1000) -> bytes:
    """`size` random bytes that start the way a file of `content_type` does."""
    head = FILE_HEADS.get(content_type, b"")
    return head + os.urandom(size - len(head))


def in_chunks(data: bytes, chunk_size: int = 8192) -> Iterator[bytes]:
    """A body of unknown length: sent chunked, without Content-Length."""
    for start in range(0, len(data), chunk_size):
        yield data[start:start + chunk_size]


class AttachmentClient:
    """Upload and download calls, on top of a ParleyClient."""

    def __init__(self, parley: ParleyClient) -> None:
        self.http = parley.http

    def upload(self, uploader: Person, content: bytes | Iterator[bytes],
               content_type: str = "image/png") -> httpx.Response:
        return self.http.post("/v1/attachments", content=content,
                              headers=uploader.auth | {"content-type": content_type})

    def uploaded(self, uploader: Person, content: bytes,
                 content_type: str = "image/png") -> dict[str, Any]:
        response = self.upload(uploader, content, content_type)
        assert response.status_code == 201, response.text
        body: dict[str, Any] = response.json()
        return body

    def download(self, reader: Person, attachment_id: str,
                 position: int | None = None) -> httpx.Response:
        params = {"position": position} if position is not None else {}
        return self.http.get(f"/v1/attachments/{attachment_id}", params=params,
                             headers=reader.auth)
