"""The in-app inbox, live, on both profiles as real processes: a socket open for the recipient
hears a `notification` frame with the inbox item and the unread count soon after a service
posts it, and the count again once it is read; nobody else's socket hears of it. In production
the frame goes from `parley project` through Redis to the API process holding the socket."""

from __future__ import annotations

import json
import time
from typing import Any

from websockets.sync.client import ClientConnection

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import PROFILES
from tests.e2e.notifications.deployments import issue_key
from tests.e2e.test_live_sockets import socket_of

pytestmark = PROFILES
FRAME_WITHIN_SECONDS = 15.0


def post_to_inbox(parley: ParleyClient, key: str, recipient: Person, title: str) -> str:
    response = parley.http.post("/v1/notifications", headers={"Authorization": f"Bearer {key}"},
                                json={"recipients": [recipient.user_id], "category": "system",
                                      "priority": "high", "plan": {"channels": ["in_app"]},
                                      "content": {"title": title, "body": "All green.",
                                                  "data": {"build": 1207}}})
    assert response.status_code == 202, response.text
    [notification] = response.json()["notifications"]
    return str(notification["notification_id"])


def next_notification_frame(socket: ClientConnection,
                            timeout: float = FRAME_WITHIN_SECONDS) -> dict[str, Any]:
    """The socket's next `notification` frame (other frames pass by), within `timeout`."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = deadline - time.monotonic()
        assert remaining > 0, f"no notification frame within {timeout} s"
        try:
            frame: dict[str, Any] = json.loads(socket.recv(timeout=remaining))
        except TimeoutError:
            raise AssertionError(f"no notification frame within {timeout} s") from None
        if frame.get("type") == "notification":
            return frame


def inbox(parley: ParleyClient, person: Person) -> dict[str, Any]:
    response = parley.http.get("/v1/notifications", headers=person.auth)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


def test_the_recipients_socket_hears_a_posted_notification_and_the_unread_count_once_read(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    key = issue_key(processes.env)
    bob, cyrus = parley.register("Bob"), parley.register("Cyrus")
    with socket_of(processes.base_url, bob.token) as bobs, \
            socket_of(processes.base_url, cyrus.token) as cyruses:
        bobs.send(json.dumps({"type": "ping"}))  # both open and following before the post
        cyruses.send(json.dumps({"type": "ping"}))
        nid = post_to_inbox(parley, key, bob, "Build finished")

        posted = next_notification_frame(bobs)
        assert posted["unread"] == 1
        [shown] = inbox(parley, bob)["notifications"]
        assert posted["notification"] == shown  # the inbox's item, as GET shows it
        assert shown["notification_id"] == nid and shown["title"] == "Build finished"
        assert shown["data"] == {"build": 1207} and shown["read"] is False

        second = post_to_inbox(parley, key, bob, "Deploy finished")
        assert next_notification_frame(bobs)["unread"] == 2
        read = parley.http.post(f"/v1/notifications/{second}/read", headers=bob.auth)
        assert read.status_code == 200, read.text
        after_reading = next_notification_frame(bobs)
        assert after_reading["unread"] == 1
        assert after_reading["notification"]["notification_id"] == second
        assert after_reading["notification"]["read"] is True
        assert after_reading["notification"]["read_at"] is not None

        # frames go out in order on one channel: the first Cyrus hears is his own, so none
        # of Bob's three reached him
        theirs = post_to_inbox(parley, key, cyrus, "Your export is ready")
        heard = next_notification_frame(cyruses)
        assert heard["notification"]["notification_id"] == theirs
        assert heard["unread"] == 1
