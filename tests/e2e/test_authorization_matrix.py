"""Who may do what to which id: every route of the OpenAPI document that takes an id, by every
kind of caller, with the answer each cell must give.

The routes come from the app's own OpenAPI document, so a new route without an entry in
`MATRIX` fails here. A caller who may not see a target must get, byte for byte (status,
headers, body; not the request id or the date), the answer for a random id that does not
exist: nobody learns that a conversation, message or attachment exists by asking. Callers:

- owner (Ada), admin (Bob), member (Cy) of the group; Ada and Cy also share a direct chat;
- outsider (Eve); blocked (Blo: an outsider who blocked Ada, the owner);
- late joiner (Lee, added after the first message); former member (Fay, removed after the
  first message was edited and reacted to; it was edited and reacted to again after);
- auditor (Aud: the operator's `auditor` role, no conversation).

Runs on the embedded profile, in process, with one world per module; commands that would
change the world for later cells (leave, remove, unsend, hide...) get a fresh group each.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from commands.identity.roles import GrantRole
from domain.notifications.tracked_links import TrackedLinks
from domain.notifications.unsubscribe import UnsubscribeLinks
from event_log.aggregate import Cause
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import a_file, a_handle, an_api_key, answer_of

OWNER, ADMIN, MEMBER, OUTSIDER, BLOCKED, LATE, FORMER, AUDITOR = (
    "owner", "admin", "member", "outsider", "blocked", "late joiner", "former member", "auditor")
CALLERS = (OWNER, ADMIN, MEMBER, OUTSIDER, BLOCKED, LATE, FORMER, AUDITOR)
PASSWORD = "matrix test passphrase 7"
THUMBS = quote("👍")

# Targets: which id fills the route's main path parameter.
GROUP, DIRECT = "group", "direct chat"
BEFORE, AFTER, IN_DIRECT = "message before", "message after", "message in direct chat"
CONVERSATIONS, MESSAGES = (GROUP, DIRECT), (BEFORE, AFTER, IN_DIRECT)


@dataclass
class Caller:
    user_id: str
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class Group:
    """A group with every kind of member, and its two messages."""

    conversation_id: str
    before: str  # sent before Lee joined; edited and reacted to before and after Fay left
    after: str  # sent after Lee joined and after Fay left; carries an attachment
    position: int


@dataclass
class World:
    http: TestClient
    people: dict[str, Caller]
    tom: Caller  # a bystander: the user id of routes about people
    pal: Caller  # shares a direct chat with every caller; added to groups
    pal_chats: dict[str, str]  # each caller's own direct chat with Pal: where they forward to
    direct: str
    group: Group
    in_direct: str
    attachment: str
    spare_device: str
    position: int = 0
    contact_point: str = ""  # Ada's webhook endpoint
    doomed_contact_point: str = ""  # another, which Ada's cell of the DELETE route removes
    notification: str = ""  # one in Ada's inbox
    unsubscribe_token: str = ""  # the token of Ada's one-click link for "marketing" email
    tracked_link: str = ""  # the token of a tracked link of a notification to Ada
    payment: str = ""  # a settled payment from Ada to Cy in their direct chat

    def call(self, method: str, url: str, caller: str, body: Any = None,
             params: dict[str, Any] | None = None) -> httpx.Response:
        headers = self.people[caller].auth
        if "payments" in url or "/v1/wallets/" in url:  # every payment command takes a key
            headers = headers | {"Idempotency-Key": uuid.uuid4().hex}
        return self.http.request(method, url, headers=headers, json=body,
                                 params={"position": self.position} | (params or {}),
                                 follow_redirects=False)

    def at(self, response: httpx.Response) -> httpx.Response:
        """Follows a command's position, so later reads see its effect."""
        assert response.status_code < 300, response.text
        self.position = max(self.position, int(response.json().get("position", 0)))
        return response


def register(http: TestClient, name: str) -> Caller:
    response = http.post("/v1/users", json={"handle": a_handle(name.lower()), "name": name,
                                            "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Caller(body["user_id"], body["handle"], body.get("access_token") or body["token"])


def befriend(world: World, first: Caller, second: Caller) -> None:
    """Contacts join a group at once when added (others would only be invited)."""
    asked = world.http.post("/v1/contacts/requests", json={"user_id": second.user_id},
                            headers=first.auth)
    world.at(asked)
    world.at(world.http.post(f"/v1/contacts/requests/{first.user_id}/accept",
                             headers=second.auth))


def new_group(world: World) -> Group:
    """Owner Ada, admin Bob, member Cy; Fay removed and Lee added after the first message."""
    p, call, at = world.people, world.call, world.at
    created = at(call("POST", "/v1/groups", OWNER, {"title": "Team", "member_ids": [
        p[ADMIN].user_id, p[MEMBER].user_id, p[FORMER].user_id]}))
    group = created.json()["conversation_id"]
    at(call("PUT", f"/v1/groups/{group}/members/{p[ADMIN].user_id}/role", OWNER,
            {"role": "admin"}))
    before = at(call("POST", f"/v1/conversations/{group}/messages", OWNER,
                     {"text": "meet at noon"})).json()["message_id"]
    at(call("PATCH", f"/v1/messages/{before}", OWNER, {"text": "meet at one"}))
    at(call("PUT", f"/v1/messages/{before}/reactions/{THUMBS}", ADMIN))
    at(call("DELETE", f"/v1/groups/{group}/members/{p[FORMER].user_id}", OWNER))
    at(call("POST", f"/v1/groups/{group}/members", OWNER, {"user_ids": [p[LATE].user_id]}))
    at(call("PATCH", f"/v1/messages/{before}", OWNER, {"text": "meet at the secret place"}))
    at(call("DELETE", f"/v1/messages/{before}/reactions/{THUMBS}", ADMIN))
    at(call("PUT", f"/v1/messages/{before}/reactions/{quote('🎉')}", MEMBER))
    uploaded = world.http.post("/v1/attachments", content=a_file("image/png", 200),
                               headers=p[OWNER].auth | {"content-type": "image/png"})
    assert uploaded.status_code == 201, uploaded.text
    world.attachment = uploaded.json()["attachment_id"]
    after = at(call("POST", f"/v1/conversations/{group}/messages", OWNER,
                    {"text": "welcome", "attachment_ids": [world.attachment]}))
    return Group(group, before, after.json()["message_id"], world.position)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = Path(tmp_path_factory.mktemp("matrix"))
    settings = Settings.model_validate({
        "data_dir": str(data), "database_url": None, "consistency_wait_seconds": 10,
        "send_rate_per_second": 100000, "send_burst": 100000, "typing_burst": 100000,
        "typing_rate_per_second": 100000, "signin_attempts_per_minute": 100000,
        "max_devices_per_user": 1000})
    parley = build(settings)
    with TestClient(create_app(parley)) as http:
        names = {OWNER: "Ada", ADMIN: "Bob", MEMBER: "Cy", OUTSIDER: "Eve", BLOCKED: "Blo",
                 LATE: "Lee", FORMER: "Fay", AUDITOR: "Aud"}
        people = {role: register(http, name) for role, name in names.items()}
        tom, pal = register(http, "Tom"), register(http, "Pal")
        assert parley.writer is not None
        from domain.identity.roles import operator_actor_id

        parley.writer.execute(GrantRole(uuid.UUID(people[AUDITOR].user_id), "auditor",
                                        "matrix"),
                              Cause(operator_actor_id("matrix"), uuid.uuid4()))
        world = World(http, people, tom, pal, {}, "", Group("", "", "", 0), "", "", "")
        for role in (ADMIN, MEMBER, LATE, FORMER):
            befriend(world, people[OWNER], people[role])
        for adder in (OWNER, ADMIN):
            befriend(world, people[adder], pal)
        for role in CALLERS:
            opened = world.at(world.call("POST", "/v1/conversations/direct", role,
                                         {"peer_id": pal.user_id}))
            world.pal_chats[role] = opened.json()["conversation_id"]
        world.at(world.call("POST", "/v1/blocks", BLOCKED, {"user_id": people[OWNER].user_id}))
        world.direct = world.at(world.call("POST", "/v1/conversations/direct", OWNER, {
            "peer_id": people[MEMBER].user_id})).json()["conversation_id"]
        world.in_direct = world.at(world.call(
            "POST", f"/v1/conversations/{world.direct}/messages", OWNER,
            {"text": "just us"})).json()["message_id"]
        world.group = new_group(world)
        world.contact_point, world.doomed_contact_point = (world.at(world.call(
            "POST", "/v1/users/me/contact-points/webhooks", OWNER, {"url": url})).json()[
                "contact_point_id"] for url in ("https://bots.example.com/matrix",
                                                "https://bots.example.com/doomed"))
        issue, service_key = an_api_key()
        parley.writer.execute(issue, Cause(uuid.uuid4(), uuid.uuid4()))
        world.notification = world.at(http.post("/v1/notifications", headers={
            "Authorization": f"Bearer {service_key.presented}"}, json={
            "recipients": [people[OWNER].user_id], "category": "system",
            "plan": {"channels": ["in_app"]}, "content": {"body": "for Ada"}})).json()[
                "notifications"][0]["notification_id"]
        world.unsubscribe_token = UnsubscribeLinks(parley.unsubscribe_key).token(
            uuid.UUID(people[OWNER].user_id), "marketing")
        linked = world.at(http.post("/v1/notifications", headers={
            "Authorization": f"Bearer {service_key.presented}"}, json={
            "recipients": [people[OWNER].user_id], "category": "system",
            "plan": {"channels": ["email", "in_app"]}, "content": {
                "body": "for Ada", "deep_link": "https://example.com/matrix"}})).json()[
                "notifications"][0]["notification_id"]
        world.tracked_link = TrackedLinks(parley.unsubscribe_key).token(
            uuid.UUID(linked), "email", 0)
        signed_in = http.post("/v1/sessions", json={
            "handle": people[OWNER].handle, "password": PASSWORD, "device_name": "spare"})
        assert signed_in.status_code in (200, 201), signed_in.text
        world.spare_device = signed_in.json()["device_id"]
        world.payment = a_settled_payment(world, parley)
        yield world


def a_settled_payment(world: World, parley: Any) -> str:
    """Ada, funded, pays Cy 5.00 USD in their direct chat; waited for until it settles."""
    from commands.payments.transfers import RecordTransfers
    from domain.payments.accounts import FUNDING_CLEARING, system_account, wallet
    from domain.payments.transfers import CreateTransfer

    ada = world.people[OWNER]
    parley.writer.execute(RecordTransfers((CreateTransfer(
        uuid.uuid4(), system_account(FUNDING_CLEARING, "USD"), wallet(uuid.UUID(ada.user_id),
                                                                      "USD"),
        100_000, "funding"),), datetime.now(UTC)), Cause(uuid.uuid4(), uuid.uuid4()))
    sent = world.at(world.call("POST", f"/v1/conversations/{world.direct}/payments", OWNER,
                               {"recipient_id": world.people[MEMBER].user_id, "amount": 500,
                                "currency": "USD"})).json()["payment_id"]
    deadline = time.monotonic() + 20
    while world.call("GET", f"/v1/payments/{sent}", OWNER).json().get("status") != "settled":
        assert time.monotonic() < deadline, "the matrix's payment never settled"
        time.sleep(0.05)
    return str(sent)


def pay_another_member(world: World, caller: str, target: str) -> dict[str, Any]:
    """A payment to another member of the conversation (Cy for Ada, Ada for the others)."""
    to = world.people[MEMBER if caller == OWNER else OWNER]
    return {"recipient_id": to.user_id, "amount": 1, "currency": "USD"}


def members_of(target: str) -> frozenset[str]:
    """Who may act on the target now (current members; for a message: in their window)."""
    if target in (DIRECT, IN_DIRECT):
        return frozenset({OWNER, MEMBER})
    if target == BEFORE:
        return frozenset({OWNER, ADMIN, MEMBER})
    return frozenset({OWNER, ADMIN, MEMBER, LATE})


def readers_of(target: str) -> frozenset[str]:
    """Who may read the target: its members, and former members inside their old window."""
    return members_of(target) | ({FORMER} if target in (GROUP, BEFORE) else frozenset())


@dataclass(frozen=True)
class Same:
    """Exactly the answer for a random id that does not exist (with this status)."""

    status: int = 404


Check = Callable[[World, dict[str, Any]], None]


@dataclass(frozen=True)
class Ok:
    status: int
    check: Check | None = None


Expect = Same | Ok


@dataclass(frozen=True)
class Route:
    """`expect(caller, target)`: the answer a cell must give. `fresh`: each cell gets a new
    group (and message in the direct chat), since a member's call changes the world (the
    device route signs Ada in again for the one cell that revokes the device)."""

    targets: tuple[str, ...]
    expect: Callable[[str, str], Expect]
    body: Callable[[World, str, str], Any] = field(default=lambda world, caller, target: None)
    fresh: bool = False
    params: dict[str, Any] = field(default_factory=dict)


def members(status: int | dict[str, int], *, reading: bool = False,
            direct: int | None = None, checks: dict[str, Check] | None = None
            ) -> Callable[[str, str], Expect]:
    """Members (and, for a read, former members in their window) get `status` (per caller,
    if a dict; `direct` overrides it in the direct chat); everyone else learns nothing."""

    def expect(caller: str, target: str) -> Expect:
        allowed = readers_of(target) if reading else members_of(target)
        if caller not in allowed:
            return Same(404)
        code = status if isinstance(status, int) else status.get(caller, status.get("*", 0))
        if direct is not None and target in (DIRECT, IN_DIRECT):
            code = direct
        check = (checks or {}).get(caller) if target in (BEFORE, GROUP) else None
        return Ok(code, check)

    return expect


def everyone(status: int, same: bool = False) -> Callable[[str, str], Expect]:
    """The same status for every caller; `same`: also the answer for a random id."""
    return lambda caller, target: Same(status) if same else Ok(status)


def only(allowed: dict[str, int], others: Expect) -> Callable[[str, str], Expect]:
    """These callers get their status; everyone else `others`."""
    return lambda caller, target: Ok(allowed[caller]) if caller in allowed else others


def as_fay_left(world: World, message: dict[str, Any]) -> None:
    """Item 9: Fay sees the message as it stood when she left, nothing changed after."""
    assert (message["text"], message["revision"]) == ("meet at one", 2), message
    assert [(r["emoji"], r["user_ids"]) for r in message["reactions"]] == [
        ("👍", [world.people[ADMIN].user_id])], message
    if "revisions" in message:
        assert [r["text"] for r in message["revisions"]] == ["meet at noon", "meet at one"]


def fay_pages_as_she_left(world: World, body: dict[str, Any]) -> None:
    messages = body["messages"]
    assert [m["message_id"] for m in messages] == [world.group.before], messages
    as_fay_left(world, messages[0])


def up_to(world: World, caller: str, target: str) -> dict[str, int]:
    return {"up_to_seq": 1}


AS_LEFT = {FORMER: as_fay_left}
PAGE_AS_LEFT = {FORMER: fay_pages_as_she_left}
SENDER_ONLY = {OWNER: 200, "*": 403}  # Ada sent every message
MANAGERS = {OWNER: 200, ADMIN: 200, "*": 403}
AUDITORS = only({AUDITOR: 200}, Same(403))


def by_token(caller: str, target: str) -> Expect:
    """A link's token decides, whoever calls: a forged one answers as a random one."""
    return Same(404) if target.startswith("forged") else Ok(200)


def redirected_by_token(caller: str, target: str) -> Expect:
    """A tracked link's token decides, whoever calls: sent on (302), or a random one's 404."""
    return Same(404) if target.startswith("forged") else Ok(302)


PAYMENT_PARTIES = {OWNER: 200, MEMBER: 200}  # Ada sent the payment to Cy
NOBODY_REVIEWS = everyone(403, same=True)  # nobody here is a reviewer or an admin

MATRIX: dict[tuple[str, str], Route] = {
    # payments: a payment that is not the caller's answers as one that does not exist
    ("GET", "/v1/wallets/{currency}/statement"): Route(("currency",), everyone(200)),
    # this world has no card processor: funding and payouts are not configured, for anyone
    ("POST", "/v1/wallets/{currency}/fundings"): Route(
        ("currency",), everyone(404),
        body=lambda world, caller, target: {"amount": 100, "payment_method": "pm_card_visa"}),
    ("POST", "/v1/wallets/{currency}/payouts"): Route(
        ("currency",), everyone(404),
        body=lambda world, caller, target: {"amount": 100, "destination": "ba_bench"}),
    ("GET", "/v1/fundings/{funding_id}"): Route(("tom",), everyone(404, same=True)),
    ("GET", "/v1/payouts/{payout_id}"): Route(("tom",), everyone(404, same=True)),
    ("POST", "/v1/conversations/{conversation_id}/payments"): Route(
        CONVERSATIONS, members(202), body=pay_another_member),
    ("GET", "/v1/payments/{payment_id}"): Route(("payment",), only(PAYMENT_PARTIES, Same())),
    # settled already: the sender is told it is too late; the recipient, as anyone else
    ("POST", "/v1/payments/{payment_id}/cancel"): Route(
        ("payment",), only({OWNER: 409}, Same())),
    ("POST", "/v1/payments/{payment_id}/refunds"): Route(
        ("payment",), only({MEMBER: 200}, Same()),
        body=lambda world, caller, target: {"amount": 1, "reason": "matrix"}),
    ("POST", "/v1/payments/{payment_id}/report"): Route(
        ("payment",), only({OWNER: 202, MEMBER: 202}, Same()),
        body=lambda world, caller, target: {"reason": "matrix"}),
    ("GET", "/v1/review/payments/{payment_id}"): Route(("payment",), NOBODY_REVIEWS),
    ("POST", "/v1/review/payments/{payment_id}/decision"): Route(
        ("payment",), NOBODY_REVIEWS,
        body=lambda world, caller, target: {"approve": True, "reason": "matrix"}),
    ("POST", "/v1/review/payments/{payment_id}/refunds"): Route(
        ("payment",), NOBODY_REVIEWS,
        body=lambda world, caller, target: {"amount": 1, "reason": "matrix"}),
    ("PUT", "/v1/admin/payments/users/{user_id}/tier"): Route(
        ("tom",), everyone(403, same=True),
        body=lambda world, caller, target: {"tier": "verified", "reason": "matrix"}),
    ("GET", "/v1/users/{user_id}"): Route(("tom",), everyone(200)),
    ("GET", "/v1/presence/{user_id}"): Route(("tom",), everyone(404, same=True)),
    ("POST", "/v1/contacts/requests/{user_id}/accept"): Route(("tom",), everyone(404, True)),
    ("POST", "/v1/contacts/requests/{user_id}/decline"): Route(("tom",), everyone(404, True)),
    ("DELETE", "/v1/contacts/requests/{user_id}"): Route(("tom",), everyone(404, True)),
    ("DELETE", "/v1/contacts/{user_id}"): Route(("tom",), everyone(404, True)),
    ("DELETE", "/v1/blocks/{user_id}"): Route(("tom",), everyone(404, same=True)),
    ("DELETE", "/v1/devices/{device_id}"): Route(
        ("device",), only({OWNER: 200}, Same(404))),
    ("GET", "/v1/attachments/{attachment_id}"): Route(
        ("attachment",), members(200, reading=True)),
    ("GET", "/v1/audit/aggregates/{aggregate_id}/events"): Route((GROUP,), AUDITORS),
    ("GET", "/v1/audit/aggregates/{aggregate_id}/state"): Route((GROUP,), AUDITORS),
    ("GET", "/v1/audit/aggregates/{aggregate_id}/diff"): Route(
        (GROUP,), AUDITORS, params={"from": 1, "to": 2}),
    ("GET", "/v1/admin/replays/{replay_id}"): Route(("replay",), everyone(403, same=True)),
    # operators' view of a notification provider: nobody here is an operator's admin
    ("GET", "/v1/admin/providers/{provider}"): Route(("provider",), everyone(403, same=True)),
    # compliance evidence as of an instant: auditors (and operators' admins) only
    ("GET", "/v1/admin/compliance/users/{user_id}"): Route(
        ("tom",), AUDITORS, params={"at": "2026-01-01T00:00:00Z"}),
    # notification templates: admins only, and nobody here is one
    ("GET", "/v1/admin/notification-templates/{template_id}"): Route(
        ("template",), everyone(403, same=True)),
    ("PUT", "/v1/admin/notification-templates/{template_id}"): Route(
        ("template",), everyone(403, same=True),
        body=lambda world, caller, target: {"title": "Hi", "body": "there"}),
    ("GET", "/v1/admin/notification-templates/{template_id}/versions"): Route(
        ("template",), everyone(403, same=True)),
    ("POST", "/v1/admin/notification-templates/{template_id}/preview"): Route(
        ("template",), everyone(403, same=True), body=lambda world, caller, target: {}),
    ("GET", "/v1/conversations/{conversation_id}"): Route(CONVERSATIONS, members(200)),
    ("GET", "/v1/conversations/{conversation_id}/members"): Route(CONVERSATIONS, members(200)),
    ("PUT", "/v1/conversations/{conversation_id}/settings"): Route(
        CONVERSATIONS, members(200), body=lambda w, c, t: {"archived": False}),
    ("POST", "/v1/conversations/{conversation_id}/messages"): Route(
        CONVERSATIONS, members(201), body=lambda w, c, t: {
            "text": "hi", "reply_to": w.group.after if t == GROUP else w.in_direct}),
    ("GET", "/v1/conversations/{conversation_id}/messages"): Route(
        CONVERSATIONS, members(200, reading=True, checks=PAGE_AS_LEFT)),
    ("POST", "/v1/conversations/{conversation_id}/read"): Route(
        CONVERSATIONS, members(200), body=up_to),
    ("POST", "/v1/conversations/{conversation_id}/delivered"): Route(
        CONVERSATIONS, members(200), body=up_to),
    ("POST", "/v1/conversations/{conversation_id}/typing"): Route(
        CONVERSATIONS, members(202), body=lambda w, c, t: {"typing": True}),
    ("PATCH", "/v1/groups/{group_id}"): Route(
        CONVERSATIONS, members(MANAGERS, direct=403), body=lambda w, c, t: {"title": "Team"}),
    ("POST", "/v1/groups/{group_id}/members"): Route(
        CONVERSATIONS, members(MANAGERS, direct=403),
        body=lambda w, c, t: {"user_ids": [w.pal.user_id]}, fresh=True),
    ("DELETE", "/v1/groups/{group_id}/members/{user_id}"): Route(
        CONVERSATIONS, members({OWNER: 200, ADMIN: 200, MEMBER: 403, LATE: 403}, direct=403),
        fresh=True),
    ("POST", "/v1/groups/{group_id}/leave"): Route(
        CONVERSATIONS, members({OWNER: 403, "*": 200}, direct=403), fresh=True),
    ("PUT", "/v1/groups/{group_id}/members/{user_id}/role"): Route(
        CONVERSATIONS, members({OWNER: 200, "*": 403}, direct=403),
        body=lambda w, c, t: {"role": "member"}),
    ("POST", "/v1/groups/{group_id}/owner"): Route(
        CONVERSATIONS, members({OWNER: 200, "*": 403}, direct=403),
        body=lambda w, c, t: {"user_id": w.people[MEMBER].user_id}, fresh=True),
    # nobody here has a pending invitation: members and outsiders alike learn nothing
    ("POST", "/v1/groups/{group_id}/invitations/accept"): Route(
        CONVERSATIONS, everyone(404, same=True)),
    ("POST", "/v1/groups/{group_id}/invitations/decline"): Route(
        CONVERSATIONS, everyone(404, same=True)),
    ("GET", "/v1/messages/{message_id}"): Route(
        MESSAGES, members(200, reading=True, checks=AS_LEFT)),
    ("GET", "/v1/messages/{message_id}/context"): Route(
        MESSAGES, members(200, reading=True)),
    ("GET", "/v1/messages/{message_id}/receipts"): Route(
        MESSAGES, members(200, reading=True)),
    ("POST", "/v1/messages/{message_id}/forward"): Route(
        MESSAGES, members(201), body=lambda w, c, t: {"conversation_id": w.pal_chats[c]}),
    ("PATCH", "/v1/messages/{message_id}"): Route(
        MESSAGES, members(SENDER_ONLY), body=lambda w, c, t: {"text": "edited"}),
    ("DELETE", "/v1/messages/{message_id}"): Route(
        MESSAGES, members(SENDER_ONLY), fresh=True),
    ("POST", "/v1/messages/{message_id}/hide"): Route(MESSAGES, members(200), fresh=True),
    ("PUT", "/v1/messages/{message_id}/reactions/{emoji}"): Route(MESSAGES, members(200)),
    ("DELETE", "/v1/messages/{message_id}/reactions/{emoji}"): Route(MESSAGES, members(200)),
    # contact points are their owner's alone: anyone else's id answers as a random one
    ("POST", "/v1/users/me/contact-points/{contact_point_id}/rotate-secret"): Route(
        ("contact point",), only({OWNER: 200}, Same(404))),
    ("DELETE", "/v1/users/me/contact-points/{contact_point_id}"): Route(
        ("doomed contact point",), only({OWNER: 200}, Same(404))),
    # provider callbacks prove themselves by the provider's signature, never a bearer token:
    # unsigned, every caller gets the answer of a provider that does not exist
    ("POST", "/v1/notifications/callbacks/sms/{provider}"): Route(
        ("sms provider",), everyone(403, same=True),
        params={"notification": str(uuid.uuid4()), "attempt": str(uuid.uuid4())}),
    # a handset's texts (STOP, START, HELP) as the provider posts them: signed likewise
    ("POST", "/v1/notifications/callbacks/sms/{provider}/inbound"): Route(
        ("sms provider",), everyone(403, same=True)),
    # one-click unsubscribe links (RFC 8058): the signed token is the authority, whoever
    # calls, with whatever bearer; a token not issued by the server is an unknown link
    ("POST", "/v1/notifications/unsubscribe/{token}"): Route(
        ("unsubscribe link", "forged unsubscribe link"), by_token),
    ("GET", "/v1/notifications/unsubscribe/{token}"): Route(
        ("unsubscribe link", "forged unsubscribe link"), by_token),
    # tracked links of emails: the signed token is the authority, whoever calls
    ("GET", "/v1/notifications/links/{token}"): Route(
        ("tracked link", "forged tracked link"), redirected_by_token),
    # a notification is its recipient's alone: anyone else's answer is a random id's
    ("POST", "/v1/notifications/{notification_id}/read"): Route(
        ("notification",), only({OWNER: 200}, Same(404))),
    ("POST", "/v1/notifications/{notification_id}/click"): Route(
        ("notification",), only({OWNER: 200}, Same(404))),
    # a trace too (its recipient's, an operator's admin's, or the triggering key's)
    ("GET", "/v1/notifications/{notification_id}/trace"): Route(
        ("notification",), only({OWNER: 200}, Same(404))),
}


def routes_with_ids(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """Every (method, path) of the OpenAPI document with a path parameter."""
    return sorted((method.upper(), path) for path, operations in spec["paths"].items()
                  for method, operation in operations.items()
                  if any(p.get("in") == "path" for p in operation.get("parameters", [])))


def test_every_route_that_takes_an_id_has_an_entry_in_the_matrix(world: World) -> None:
    documented = routes_with_ids(world.http.get("/openapi.json").json())
    assert documented, "the OpenAPI document lists no route with an id"
    missing = [r for r in documented if r not in MATRIX]
    stale = [r for r in MATRIX if r not in documented]
    assert (missing, stale) == ([], []), "add each route to MATRIX with who may do what"


def target_id(world: World, target: str, group: Group, in_direct: str) -> str:
    return {GROUP: group.conversation_id, DIRECT: world.direct, BEFORE: group.before,
            AFTER: group.after, IN_DIRECT: in_direct, "tom": world.tom.user_id,
            "attachment": world.attachment, "device": world.spare_device,
            "replay": str(uuid.uuid4()), "contact point": world.contact_point,
            "doomed contact point": world.doomed_contact_point, "provider": "fcm-main",
            "template": str(uuid.uuid4()), "payment": world.payment, "currency": "USD",
            "notification": world.notification, "sms provider": "twilio",
            "unsubscribe link": world.unsubscribe_token,
            "forged unsubscribe link": world.unsubscribe_token[:-4] + "AAAA",
            "tracked link": world.tracked_link,
            "forged tracked link": world.tracked_link[:-4] + "AAAA"}[target]


def url_for(path: str, main: str, world: World) -> str:
    """Fills the route's first id parameter with `main`; the others with fixed values."""
    first = path[path.index("{") + 1:path.index("}")]
    url = path.replace("{" + first + "}", main)
    return url.replace("{user_id}", world.people[MEMBER].user_id).replace("{emoji}", THUMBS)


CELLS = [(method, path, target, caller) for (method, path), route in MATRIX.items()
         for target in route.targets for caller in CALLERS]


@pytest.mark.parametrize(("method", "path", "target", "caller"), CELLS,
                         ids=[f"{m} {p} {t} {c}" for m, p, t, c in CELLS])
def test_each_caller_gets_the_answer_of_their_cell(
        world: World, method: str, path: str, target: str, caller: str) -> None:
    route = MATRIX[(method, path)]
    group, in_direct = world.group, world.in_direct
    if route.fresh:
        group = new_group(world)
        in_direct = world.at(world.call("POST", f"/v1/conversations/{world.direct}/messages",
                                        OWNER, {"text": "again"})).json()["message_id"]
    if target == "device" and caller == OWNER:  # the one cell that revokes it: a new one
        signed_in = world.http.post("/v1/sessions", json={
            "handle": world.people[OWNER].handle, "password": PASSWORD, "device_name": "spare"})
        world.spare_device = signed_in.json()["device_id"]
    expected = route.expect(caller, target)
    body = route.body(world, caller, target)
    real = world.call(method, url_for(path, target_id(world, target, group, in_direct), world),
                      caller, body, route.params)
    if isinstance(expected, Same):
        random = world.call(method, url_for(path, str(uuid.uuid4()), world), caller, body,
                            route.params)
        assert answer_of(real) == answer_of(random), (
            f"{caller} learns that this {target} exists")
        assert real.status_code == expected.status, real.text
        return
    assert real.status_code == expected.status, real.text
    if expected.check is not None:
        expected.check(world, real.json())


# Admin routes without an id (the matrix above is of routes that take one): nobody here is an
# operator's admin, so every caller is refused alike, as at the other admin routes.
ADMIN_ROUTES_WITHOUT_IDS = [("GET", "/v1/admin/notifications/analytics"),
                            ("GET", "/v1/admin/notification-templates"),
                            ("POST", "/v1/admin/notification-templates"),
                            ("GET", "/v1/admin/payments/rules"),
                            ("PUT", "/v1/admin/payments/rules"),
                            ("GET", "/v1/admin/payments/ledger")]


@pytest.mark.parametrize(("method", "path"), ADMIN_ROUTES_WITHOUT_IDS)
@pytest.mark.parametrize("caller", CALLERS)
def test_admin_routes_without_an_id_refuse_every_caller_here(
        world: World, method: str, path: str, caller: str) -> None:
    spec = world.http.get("/openapi.json").json()["paths"]
    assert method.lower() in spec.get(path, {}), f"{method} {path} is not a route"
    refused = world.call(method, path, caller)
    assert refused.status_code == 403, refused.text
    assert answer_of(refused) == answer_of(world.call("GET", "/v1/admin/providers", caller))
