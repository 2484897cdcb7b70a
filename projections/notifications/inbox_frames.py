"""The in-app inbox, live: a socket open for the recipient hears of each notification posted to
their inbox, and of each one they read, with their unread count after it.

Frames are made after the inbox projection has written a batch (so the count includes it) and
reach the recipient's sockets only, through the messenger's live channel as addressed frames
(`projections.messaging.live.ADDRESSED`; Redis pub/sub in production). They are made only for
recipients who hold a live socket somewhere, as the presence leases say when the batch is
written (`OpenSockets`): almost nobody among a bulk trigger's thousand recipients does, and for
them nothing is read or counted. The leases may lag: a socket opening while a batch's frames
are made may miss them, and a crashed process's socket counts until its lease runs out (frames
that nobody hears). A socket too slow to take them may lose some, as it loses wake-ups. Either
way `GET /v1/notifications` is the inbox itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Final

from projections.messaging.live import OpenSockets
from projections.notifications.inbox import INBOX, InboxQueries
from projections.read_model.documents import DocumentChange, ReadStore, Upsert

NOTIFICATION_FRAME: Final = "notification"
ITEM_FIELDS: Final = ("notification_id", "category", "priority", "title", "body", "data",
                      "deep_link", "posted_at", "read", "read_at")


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


def _recipients_in(changes: Sequence[DocumentChange]) -> dict[str, str]:
    """Notification id -> recipient id, for the notifications the batch itself requested (a
    trigger's are requested and posted in one transaction, so projected together)."""
    return {change.doc_id: change.fields["recipient_id"] for change in changes
            if isinstance(change, Upsert) and change.collection == INBOX
            and "recipient_id" in change.fields}


def _by_id(store: ReadStore, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
    return store.get_many(INBOX, ids) if ids else {}


def inbox_frames(changes: Sequence[DocumentChange], store: ReadStore,
                 open_sockets: OpenSockets) -> list[tuple[str, dict[str, Any]]]:
    """`(recipient id, {"type": "notification", "notification": item, "unread": n})` for
    each notification the batch posted or marked read whose recipient has a socket open, in
    the batch's order."""
    ids = _shown_changes(changes)
    if not ids:
        return []
    recipients = _recipients_in(changes)
    # a read, or a post whose request was projected earlier (a scheduled one), names no one
    documents = _by_id(store, [i for i in ids if i not in recipients])
    recipients.update((i, d["recipient_id"]) for i, d in documents.items())
    listening = open_sockets({recipients[i] for i in ids if i in recipients})
    heard = [i for i in ids if recipients.get(i) in listening]
    documents.update(_by_id(store, [i for i in heard if i not in documents]))
    shown = [documents[i] for i in heard if i in documents and documents[i].get("posted")]
    inbox = InboxQueries(store)
    unread = {r: inbox.unread_count(r) for r in dict.fromkeys(d["recipient_id"] for d in shown)}
    return [(d["recipient_id"], {"type": NOTIFICATION_FRAME, "notification": inbox_item(d),
                                 "unread": unread[d["recipient_id"]]}) for d in shown]
