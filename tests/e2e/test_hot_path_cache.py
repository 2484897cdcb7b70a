"""The conversation list, the latest page and unread counts come from the cache, and a query
with a consistency token never answers from before that token, on both profiles."""

from __future__ import annotations

from typing import Any

import pytest
import redis

from tests.builders import GroupClient, ParleyClient, Person
from tests.e2e.conftest import PROFILES

PRODUCTION = pytest.mark.parametrize(
    "processes", [pytest.param("production", marks=pytest.mark.services)], indirect=True)


def hot_reads(parley: ParleyClient, reader: Person, group: str, at: int) -> dict[str, Any]:
    """The three hot paths, each asked with the consistency token `at`."""
    params = {"position": at}
    listed = parley.http.get("/v1/conversations", params=params, headers=reader.auth)
    latest = parley.messages(reader, group, limit=5, position=at)
    unread = parley.http.get("/v1/unread", params=params, headers=reader.auth)
    for answer in (listed, latest, unread):
        assert answer.status_code == 200, answer.text
    [summary] = listed.json()["conversations"]
    return {"preview": summary["last_message_preview"], "listed_unread": summary["unread_count"],
            "latest": [m["text"] for m in latest.json()["messages"]],
            "unread": unread.json()["total"]}


@PROFILES
def test_every_write_shows_at_once_in_the_hot_paths_of_a_reader_holding_its_token(
    parley: ParleyClient,
) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    group = calls.create(ada, "Club", bob)
    for i in range(1, 11):
        sent = parley.sent(bob, group, f"message {i}")
        seen = hot_reads(parley, ada, group, sent["position"])
        assert seen == {"preview": f"message {i}", "listed_unread": i,
                        "latest": [f"message {n}" for n in range(i, max(0, i - 5), -1)],
                        "unread": i}
        hot_reads(parley, ada, group, sent["position"])  # now from the cache
    edited = calls.call("PATCH", f"/v1/messages/{sent['message_id']}", bob,
                        json={"text": "message 10, edited"})
    assert hot_reads(parley, ada, group, edited.json()["position"])["latest"][0] \
        == "message 10, edited"
    read = calls.call("POST", f"/v1/conversations/{group}/read", ada, json={"up_to_seq": 10})
    after_reading = hot_reads(parley, ada, group, read.json()["position"])
    assert (after_reading["unread"], after_reading["listed_unread"]) == (0, 0)


@PRODUCTION
def test_in_production_the_hot_paths_are_held_in_redis(
    parley: ParleyClient, services: dict[str, str], namespace: str,
) -> None:
    calls = GroupClient(parley)
    ada, bob = parley.register("Ada"), parley.register("Bob")
    group = calls.create(ada, "Club", bob)
    sent = parley.sent(bob, group, "hello")
    hot_reads(parley, ada, group, sent["position"])
    client = redis.Redis.from_url(services["PARLEY_REDIS_URL"])
    try:
        held = {k.decode() for k in client.scan_iter(f"{namespace}:doc:hot:*")}
    finally:
        client.close()
    assert {f"{namespace}:doc:hot:inbox:{ada.user_id}",
            f"{namespace}:doc:hot:latest:{group}"} <= held
