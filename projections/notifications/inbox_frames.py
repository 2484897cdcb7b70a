"""The in-app inbox, live: a socket open for the recipient hears of each notification posted to
their inbox, and of each one they read, with their unread count after it.

Frames are made after the inbox projection has written a batch (so the count includes it) and
reach the recipient's sockets only, through the messenger's live channel as addressed frames
(`projections.messaging.live.ADDRESSED`; Redis pub/sub in production). A socket too slow to
take them may lose some, as it loses wake-ups: `GET /v1/notifications` is the inbox itself.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from projections.notifications.inbox import INBOX, UNREAD_COUNT_CAP, InboxQueries
from projections.read_model.documents import AnyOf, DocumentChange, Eq, Query, ReadStore, Upsert

NOTIFICATION_FRAME: Final = "notification"
ITEM_FIELDS: Final = ("notification_id", "category", "priority", "title", "body", "data",
                      "deep_link", "posted_at", "read", "read_at")
READ_AT_ONCE: Final = 500  # documents per query
COUNTED_AT_ONCE: Final = 200  # recipients whose unread notifications one query reads
UNREAD_READ_AT_ONCE: Final = 5000  # (Elasticsearch answers at most 10,000 hits)


def inbox_item(document: dict[str, Any]) -> dict[str, Any]:
    """A notification as the inbox shows it (`GET /v1/notifications`' items)."""
    item = {name: document.get(name) for name in ITEM_FIELDS}
    item["data"] = item["data"] or {}
    item["read"] = bool(item["read"])
    for moment in ("posted_at", "read_at"):  # as the API writes times: UTC with a Z
        stored = item[moment]
        if isinstance(stored, str):
            item[moment] = datetime.fromisoformat(stored).isoformat().replace("+00:00", "Z")
    return item


def _shown_changes(changes: Sequence[DocumentChange]) -> list[str]:
    """The notifications a batch posted to an inbox or marked read, once each, in order."""
    touched = [change.doc_id for change in changes
               if isinstance(change, Upsert) and change.collection == INBOX
               and (change.fields.get("posted") is True or change.fields.get("read") is True)]
    return list(dict.fromkeys(touched))


def inbox_frames(changes: Sequence[DocumentChange],
                 store: ReadStore) -> list[tuple[str, dict[str, Any]]]:
    """`(recipient id, {"type": "notification", "notification": item, "unread": n})` for
    each notification the batch posted or marked read, in the batch's order."""
    ids = _shown_changes(changes)
    if not ids:
        return []
    documents: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), READ_AT_ONCE):
        chunk = ids[start:start + READ_AT_ONCE]
        page = store.query(Query(INBOX, filters=(AnyOf("notification_id", tuple(chunk)),),
                                 sort_field="position", limit=len(chunk)))
        documents.update((d["notification_id"], d) for d in page.documents)
    shown = [documents[i] for i in ids if i in documents and documents[i].get("posted")]
    unread = unread_counts(store, list(dict.fromkeys(d["recipient_id"] for d in shown)))
    return [(d["recipient_id"], {"type": NOTIFICATION_FRAME, "notification": inbox_item(d),
                                 "unread": unread[d["recipient_id"]]}) for d in shown]


def unread_counts(store: ReadStore, recipients: Sequence[str]) -> dict[str, int]:
    """Each recipient's unread count as `InboxQueries.unread_count` gives it (up to
    UNREAD_COUNT_CAP), in one query per COUNTED_AT_ONCE recipients (a batch posts to many
    inboxes at once); recipients with a great many unread are counted one by one."""
    counts: dict[str, int] = {}
    for start in range(0, len(recipients), COUNTED_AT_ONCE):
        chunk = recipients[start:start + COUNTED_AT_ONCE]
        page = store.query(Query(INBOX, filters=(
            AnyOf("recipient_id", tuple(chunk)), Eq("posted", True), Eq("read", False)),
            sort_field="position", limit=UNREAD_READ_AT_ONCE))
        if page.next_after is None:
            found = Counter(d["recipient_id"] for d in page.documents)
            counts.update((r, min(found[r], UNREAD_COUNT_CAP)) for r in chunk)
        else:
            inbox = InboxQueries(store)
            counts.update((r, inbox.unread_count(r)) for r in chunk)
    return counts
