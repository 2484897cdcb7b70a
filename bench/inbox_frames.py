"""`python -m bench.inbox_frames`: the CPU of the inbox's live frames step, as JSON.

A real SQLite read store holds `--recipients` inboxes with `--unread` unread notifications
each (written through the inbox projector's document changes); then one batch posts one more to
every inbox and the frames are made for it, `--listening` of the recipients holding a socket.
CPU time (`time.process_time`) of that step, of the batch's write, and of one unread count. The
tree before a6617a6 took no open sockets (frames for everyone): the same script measures it.
"""

from __future__ import annotations

import argparse
import inspect
import json
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from adapters.read_model.sqlite_read_store import SQLiteReadStore
from projections.notifications import inbox_frames
from projections.notifications.inbox import INBOX, InboxQueries
from projections.read_model.documents import Upsert


class Inboxes:
    def __init__(self, store: SQLiteReadStore, recipients: int) -> None:
        self.store, self.position = store, 0
        self.people = [str(uuid.uuid4()) for _ in range(recipients)]

    def post_to_all(self) -> list[Upsert]:
        changes = []
        for person in self.people:
            notification = str(uuid.uuid4())
            self.position += 2
            changes += [Upsert(INBOX, notification, self.position - 1, {
                "notification_id": notification, "recipient_id": person, "category": "system",
                "priority": "normal", "title": "Build finished", "body": "All green.",
                "data": {}, "deep_link": None, "posted": False, "read": False}),
                Upsert(INBOX, notification, self.position, {
                    "posted": True, "posted_at": "2026-12-02T09:00:00+00:00",
                    "position": self.position})]
        self.store.apply(changes, "notification_inbox", self.position)
        return changes


def frames_cpu_ms(recipients: int, unread: int, listening: int) -> dict[str, Any]:
    store = SQLiteReadStore(Path(tempfile.mkdtemp()) / "read.sqlite3")
    inboxes = Inboxes(store, recipients)
    for _ in range(unread):
        inboxes.post_to_all()
    started = time.process_time()
    changes = inboxes.post_to_all()  # the documents' write (the SQLite indexes' share)
    apply_ms = (time.process_time() - started) * 1000
    heard = set(inboxes.people[:listening])
    started = time.process_time()
    if len(inspect.signature(inbox_frames.inbox_frames).parameters) == 2:
        frames = inbox_frames.inbox_frames(changes, store)  # type: ignore[call-arg]
    else:
        frames = inbox_frames.inbox_frames(changes, store, lambda ids: heard & set(ids))
    frames_ms = (time.process_time() - started) * 1000
    started = time.process_time()
    InboxQueries(store).unread_count(inboxes.people[0])
    count_ms = (time.process_time() - started) * 1000
    store.close()
    return {"recipients": recipients, "unread_each": unread + 1, "listening": listening,
            "frames": len(frames), "frames_cpu_ms": round(frames_ms, 2),
            "batch_write_cpu_ms": round(apply_ms, 2),
            "one_unread_count_cpu_ms": round(count_ms, 3),
            "inbox_documents": recipients * (unread + 1)}


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.inbox_frames")
    parser.add_argument("--recipients", type=int, default=1000)
    parser.add_argument("--unread", type=int, nargs="+", default=[4, 17])
    parser.add_argument("--listening", type=int, nargs="+", default=[0, 10])
    options = parser.parse_args()
    print(json.dumps([frames_cpu_ms(options.recipients, unread, listening)
                      for unread in options.unread for listening in options.listening],
                     indent=2))


if __name__ == "__main__":
    main()
