"""What one recipient accumulates in digests is bounded, end to end on the embedded default, in
process, through the trigger API and a real signed-webhook receiver (the package's): a digest
that reaches PARLEY_NOTIFICATION_DIGEST_MAX_MEMBERS is sent at once, long before its window
ends, and the next member starts another; a caller with PARLEY_NOTIFICATION_DIGEST_MAX_OPEN
digests open for a recipient gets the next notification that would open one more sent on its
own, never dropped; the decision trace says which limit and its value; a digest of members
at the most a push carries still fits one."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from domain.notifications.content import PUSH_PAYLOAD_BYTES, Content, push_payload
from domain.notifications.digests import Digest
from domain.notifications.notifications import Notification
from tests.builders import Person
from tests.e2e.notifications import in_process as harness
from tests.e2e.notifications.in_process import WEBHOOKS, InProcess, embedded, in_process
from tests.providers.webhook_receiver import WebhookReceiver

WAIT_SECONDS = 20.0
WINDOW = 600  # far longer than any wait here: only a limit sends a digest early
MAX_MEMBERS = 3
MAX_OPEN = 2
eventually = functools.partial(harness.eventually, timeout=WAIT_SECONDS, every=0.05)


@dataclass
class World(InProcess):
    receiver: WebhookReceiver
    receiver_url: str

    def someone_with_a_webhook(self) -> Person:
        person = self.client.register("Ada")
        self.add_webhook(person, self.receiver, self.receiver_url + "/ok")
        return person

    def trigger(self, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post("/v1/notifications", json=body, headers=self.service)
        assert response.status_code == 202, response.text
        [made] = response.json()["notifications"]
        return dict(made)

    def digest_inputs(self, notification_id: str) -> dict[str, Any]:
        """The digest step's inputs as the service that triggered it reads the trace."""
        response = self.http.get(f"/v1/notifications/{notification_id}/trace",
                                 headers=self.service)
        assert response.status_code == 200, response.text
        [step] = [s for s in response.json()["steps"] if s.get("name") == "digest"]
        return dict(step["details"]["inputs"])

    def digested_into(self, notification_id: str) -> uuid.UUID:
        [into] = [e.into for e in self.events(notification_id, Notification.Digested)]
        return uuid.UUID(str(into))

    def digest(self, digest_id: uuid.UUID) -> Digest:
        found: Any = self.parley.event_log.repository.get(digest_id)
        assert isinstance(found, Digest)
        return found

    def delivered(self, notification_id: str) -> list[dict[str, Any]]:
        return [d.payload["data"] for d in self.receiver.deliveries
                if d.payload["data"].get("notification_id") == notification_id]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory,
          webhook_endpoint: tuple[WebhookReceiver, str]) -> Iterator[World]:
    settings = embedded(tmp_path_factory.mktemp("digest-limits") / "data", [WEBHOOKS],
                        notification_allow_loopback_http=True,
                        notification_timer_every_seconds=0.1,
                        notification_digest_max_window_seconds=WINDOW,
                        notification_digest_max_members=MAX_MEMBERS,
                        notification_digest_max_open=MAX_OPEN)
    receiving, url = webhook_endpoint
    receiving.reset()
    with in_process(settings, World, receiver=receiving, receiver_url=url) as running:
        yield running


def a_body(person: Person, key: str, text: str = "hi", **content: Any) -> dict[str, Any]:
    return {"recipients": [person.user_id], "category": "message", "priority": "normal",
            "plan": {"channels": ["webhook", "in_app"]},
            "content": {"title": "Grace", "body": text} | content,
            "digest": {"key": key, "window_seconds": WINDOW,
                       "title": "{count} new messages in " + key}}


def test_a_digest_that_reaches_its_member_limit_is_sent_at_once_and_the_next_starts_anew(
        world: World) -> None:
    ada = world.someone_with_a_webhook()
    made = [world.trigger(a_body(ada, "book-club", f"message {i}"))
            for i in range(MAX_MEMBERS + 1)]
    assert {m["state"] for m in made} == {"digested"}
    full = world.digested_into(made[0]["notification_id"])
    assert {world.digested_into(m["notification_id"]) for m in made[:MAX_MEMBERS]} == {full}
    following = world.digested_into(made[-1]["notification_id"])
    assert following != full

    sent = eventually(lambda: world.digest(full).flushed_into)  # long before its window
    [payload] = eventually(lambda: world.delivered(str(sent)))
    assert payload["title"] == f"{MAX_MEMBERS} new messages in book-club"
    assert [m["notification_id"] for m in made[:MAX_MEMBERS]] == [
        str(m) for m in world.digest(full).member_ids]  # each member once, none lost
    assert world.digest(following).state == "collecting"  # its own window still runs
    assert world.digest(following).member_ids == [uuid.UUID(made[-1]["notification_id"])]

    filling = world.digest_inputs(made[MAX_MEMBERS - 1]["notification_id"])
    assert (filling["limit"], filling["fills"], filling["members"], filling["max_members"]) == (
        "members", True, MAX_MEMBERS, MAX_MEMBERS)
    opening = world.digest_inputs(made[-1]["notification_id"])
    assert (opening["limit"], opening["opens"]) == ("members", True)


def test_at_the_open_digest_limit_the_next_key_is_sent_on_its_own(world: World) -> None:
    ada = world.someone_with_a_webhook()
    for key in ("chess", "hiking"):
        assert world.trigger(a_body(ada, key))["state"] == "digested"
    alone = world.trigger(a_body(ada, "climbing", "route tonight?"))
    assert alone["state"] not in ("digested", "suppressed", "cancelled")
    [payload] = eventually(lambda: world.delivered(alone["notification_id"]))
    assert payload["title"] == "Grace"  # itself, not a digest
    inputs = world.digest_inputs(alone["notification_id"])
    assert (inputs["limit"], inputs["open_digests"], inputs["max_open_digests"]) == (
        "open_digests", MAX_OPEN, MAX_OPEN)
    assert inputs["digest_id"] is None
    # an open digest still takes members at the limit: joining one opens none
    assert world.trigger(a_body(ada, "chess"))["state"] == "digested"
    other = world.someone_with_a_webhook()  # another recipient has room of their own
    assert world.trigger(a_body(other, "climbing"))["state"] == "digested"


def test_a_digest_of_members_at_the_most_a_push_carries_still_fits_one(world: World) -> None:
    ada = world.someone_with_a_webhook()
    line = "\U0001f600" * 200  # every member's title at its longest, 4 bytes a character
    link = "parley://conversations/" + "c" * 2000
    made = [world.trigger(a_body(ada, "book-club", "\U0001f4da" * 150, title=line,
                                 deep_link=link) | {"digest": {
                                     "key": "emoji", "window_seconds": WINDOW,
                                     "title": "\U0001f4ac" * 190 + " {count}"}})
            for _ in range(MAX_MEMBERS)]
    into = world.digested_into(made[0]["notification_id"])
    sent = eventually(lambda: world.digest(into).flushed_into)
    [payload] = eventually(lambda: world.delivered(str(sent)))
    assert payload["title"].endswith(f" {MAX_MEMBERS}") and payload["deep_link"] == link
    assert payload["body"].endswith("more")  # the lines that did not fit are counted
    carried = Content(payload["title"], payload["body"], payload["data"], payload["deep_link"])
    assert len(push_payload(carried)) <= PUSH_PAYLOAD_BYTES
