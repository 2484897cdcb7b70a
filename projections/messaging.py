"""Read models of conversations and their messages."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from domain.conversations import Conversation
from domain.errors import NotAMember
from projections.documents import AnyOf, Contains, Eq, Page, Query, ReadStore, Upsert
from projections.runner import Cache, cache_key

CONVERSATIONS = "conversations"
MESSAGES = "messages"
PREVIEW_LENGTH = 120


class MessagingProjector:
    """Maps conversation events to `conversations` and `messages` documents."""

    name = "messaging"
    context = "messaging"
    collections = (CONVERSATIONS, MESSAGES)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _opened(self, event: Conversation.Opened, position: int) -> list[Upsert]:
        return [
            Upsert(
                CONVERSATIONS,
                str(event.originator_id),
                position,
                {
                    "conversation_id": str(event.originator_id),
                    "kind": event.kind,
                    "member_ids": [str(m) for m in event.member_ids],
                    "created_at": event.timestamp.isoformat(),
                    "last_activity_at": event.timestamp.isoformat(),
                    "last_seq": 0,
                    "position": position,
                },
            )
        ]

    @changes.register
    def _message_sent(self, event: Conversation.MessageSent, position: int) -> list[Upsert]:
        conversation_id = str(event.originator_id)
        return [
            Upsert(
                MESSAGES,
                str(event.message_id),
                position,
                {
                    "message_id": str(event.message_id),
                    "conversation_id": conversation_id,
                    "sender_id": str(event.sender_id),
                    "seq": event.seq,
                    "text": event.text,
                    "sent_at": event.sent_at.isoformat(),
                    "position": position,
                },
            ),
            Upsert(
                CONVERSATIONS,
                conversation_id,
                position,
                {
                    "last_activity_at": event.sent_at.isoformat(),
                    "last_seq": event.seq,
                    "last_message_preview": event.text[:PREVIEW_LENGTH],
                    "position": position,
                },
            ),
        ]


class MessagingQueries:
    """What members may read about their conversations; non-members learn nothing."""

    MAX_SEARCHED_CONVERSATIONS = 1000

    def __init__(self, store: ReadStore, cache: Cache) -> None:
        self._store = store
        self._cache = cache

    def conversation(self, conversation_id: str, reader_id: str) -> dict[str, Any]:
        key = cache_key(CONVERSATIONS, conversation_id)
        document = self._cache.get(key)
        if document is None:
            document = self._store.get(CONVERSATIONS, conversation_id)
            if document is not None:
                self._cache.set(key, document)
        if document is None or reader_id not in document["member_ids"]:
            raise NotAMember("conversation_id", "no such conversation")
        return document

    def conversations(self, reader_id: str, limit: int, after: list[Any] | None) -> Page:
        return self._store.query(
            Query(
                CONVERSATIONS,
                filters=[Contains("member_ids", reader_id)],
                sort_field="position",
                after=after,
                limit=limit,
            )
        )

    def messages(
        self, conversation_id: str, reader_id: str, limit: int, after: list[Any] | None
    ) -> Page:
        """Newest first."""
        self.conversation(conversation_id, reader_id)
        return self._store.query(
            Query(
                MESSAGES,
                filters=[Eq("conversation_id", conversation_id)],
                sort_field="seq",
                after=after,
                limit=limit,
            )
        )

    def search(self, reader_id: str, text: str, limit: int, after: list[Any] | None) -> Page:
        """Full-text search over the messages of the reader's conversations, newest first."""
        mine = self._store.query(
            Query(
                CONVERSATIONS,
                filters=[Contains("member_ids", reader_id)],
                sort_field="position",
                limit=self.MAX_SEARCHED_CONVERSATIONS,
            )
        )
        conversation_ids = [d["conversation_id"] for d in mine.documents]
        if not conversation_ids:
            return Page([])
        return self._store.query(
            Query(
                MESSAGES,
                filters=[AnyOf("conversation_id", conversation_ids)],
                sort_field="position",
                after=after,
                limit=limit,
                text=text,
            )
        )
