"""Which hot-path cache entries a batch of document changes makes stale (see `hot_paths`)."""

from __future__ import annotations

from collections.abc import Sequence

from projections.identity.contacts import BLOCKS
from projections.messaging.conversations import CONVERSATIONS, MEMBERSHIPS, MESSAGES
from projections.messaging.memberships import current_members
from projections.read_model.documents import ReadStore, Upsert
from projections.read_model.hot_paths import blocks_key, inbox_key, latest_key, memberships_key


def hot_path_keys(changes: Sequence[Upsert], store: ReadStore) -> set[str]:
    """The hot-path entries a batch of document changes makes stale."""
    keys: set[str] = set()
    changed_conversations: set[str] = set()
    for change in changes:
        if change.collection == MEMBERSHIPS:
            user_id = change.doc_id.split(":", 1)[1]
            keys |= {memberships_key(user_id), inbox_key(user_id)}
        elif change.collection == CONVERSATIONS:
            changed_conversations.add(change.doc_id)
        elif change.collection == MESSAGES:
            conversation_id = change.fields.get("conversation_id") or _conversation_of(
                store, change.doc_id)
            if conversation_id:
                keys.add(latest_key(conversation_id))
        elif change.collection == BLOCKS:
            blocker_id, blocked_id = change.doc_id.split(":", 1)
            keys |= {blocks_key(blocker_id), blocks_key(blocked_id), inbox_key(blocker_id)}
    keys |= {inbox_key(m) for m in current_members(store, sorted(changed_conversations))}
    return keys


def _conversation_of(store: ReadStore, message_id: str) -> str | None:
    message = store.get(MESSAGES, message_id)
    return None if message is None else message.get("conversation_id")
