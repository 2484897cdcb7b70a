"""Contact points over HTTP, on both profiles: each kind registered, listed (masked, no
secret) and removed; the limit per user; someone else's id answered as a random one; email
verification by the token a link carries (expired, tampered or stale: one answer); webhook
secrets answered once and never listed or logged.

One Parley per profile, shared with the other process modules of the package (each test
registers its own users): tests/e2e/notifications/deployments.py."""

from __future__ import annotations

import base64
import hashlib
import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from domain.notifications.email_verification import EmailVerification, verification_link
from tests.builders import ParleyClient, Person, answer_of
from tests.e2e.notifications.deployments import EACH_PROFILE, MAX_CONTACT_POINTS, Deployment

LIMIT = MAX_CONTACT_POINTS
POINTS = "/v1/users/me/contact-points"
PASSWORD = "correct horse battery"
FCM = "fM3xQ2rLTeK:APA91bHq8xY2kWJ7n0Xc_V4dR9sZ1tL6uP3oQ5eA8bC"
APNS = "5f" * 32


@pytest.fixture(scope="module", params=EACH_PROFILE)
def deployment(request: pytest.FixtureRequest) -> Deployment:
    found: Deployment = request.getfixturevalue(f"{request.param}_deployment")
    return found


@pytest.fixture
def parley(deployment: Deployment) -> Iterator[ParleyClient]:
    with httpx.Client(base_url=deployment.processes.base_url, timeout=30) as http:
        yield ParleyClient(http)


def a_p256dh() -> str:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    point = key.public_bytes(Encoding.X962, PublicFormat.UncompressedPoint)
    return base64.urlsafe_b64encode(point).rstrip(b"=").decode()


AUTH = base64.urlsafe_b64encode(bytes(range(16))).rstrip(b"=").decode()


def add(parley: ParleyClient, who: Person, kind: str, body: dict[str, Any],
        status: int = 201) -> dict[str, Any]:
    response = parley.http.post(f"{POINTS}/{kind}", json=body, headers=who.auth)
    assert response.status_code == status, response.text
    answer: dict[str, Any] = response.json()
    return answer


def listed(parley: ParleyClient, who: Person, position: int) -> list[dict[str, Any]]:
    response = parley.http.get(POINTS, params={"position": position}, headers=who.auth)
    assert response.status_code == 200, response.text
    points: list[dict[str, Any]] = response.json()["contact_points"]
    return points


def every_kind(parley: ParleyClient, who: Person) -> dict[str, dict[str, Any]]:
    """One contact point of each kind, as their registrations answered."""
    return {
        "email": add(parley, who, "email", {"address": "Ada.Lovelace@Example.COM"}),
        "phone": add(parley, who, "phone", {"number": "020 7946 0018", "region": "GB"}),
        "webpush": add(parley, who, "web-push", {
            "endpoint": "https://push.example.net/wpush/v2/gAAAAABlZk9q",
            "keys": {"p256dh": a_p256dh(), "auth": AUTH}}),
        "fcm": add(parley, who, "push-tokens", {"kind": "fcm", "token": FCM}),
        "apns": add(parley, who, "push-tokens", {"kind": "apns", "token": APNS}),
        "webhook": add(parley, who, "webhooks", {"url": "https://bots.example.com/hook?k=s3"}),
    }


def device_of(parley: ParleyClient, who: Person) -> str:
    response = parley.http.get("/v1/devices", headers=who.auth)
    assert response.status_code == 200, response.text
    [device] = response.json()["devices"]
    return str(device["device_id"])


def test_each_kind_is_registered_listed_masked_and_removed(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    added = every_kind(parley, ada)
    device = device_of(parley, ada)
    last = max(a["position"] for a in added.values())
    shown = {p["kind"]: p for p in listed(parley, ada, last)}
    assert {k: p["value"] for k, p in shown.items()} == {
        "email": "Ada.Lovelace@example.com", "phone": "+442079460018",
        "webpush": "https://push.example.net/…BlZk9q",
        "fcm": "…" + FCM[-6:], "apns": "…" + APNS[-6:],
        "webhook": "https://bots.example.com/hook?…"}
    assert {k: p["device_id"] for k, p in shown.items()} == {
        "email": None, "phone": None, "webpush": device, "fcm": device, "apns": device,
        "webhook": None}
    assert shown["email"]["verified"] is False
    assert {k: p["contact_point_id"] for k, p in shown.items()} == {
        k: a["contact_point_id"] for k, a in added.items()}
    removed = parley.http.delete(f"{POINTS}/{added['phone']['contact_point_id']}",
                                 headers=ada.auth)
    assert removed.status_code == 200 and removed.json()["removed"] is True, removed.text
    assert "phone" not in {p["kind"] for p in listed(parley, ada, removed.json()["position"])}
    again = parley.http.delete(f"{POINTS}/{added['phone']['contact_point_id']}",
                               headers=ada.auth)
    assert again.status_code == 404, again.text


def test_the_same_address_again_is_the_same_contact_point(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    first = add(parley, ada, "email", {"address": "ada@example.com"})
    again = add(parley, ada, "email", {"address": "ADA@example.com"}, status=200)
    assert again["contact_point_id"] == first["contact_point_id"]
    token = add(parley, ada, "push-tokens", {"kind": "fcm", "token": FCM})
    renewed = add(parley, ada, "push-tokens", {"kind": "fcm", "token": FCM + "b"}, status=200)
    assert renewed["contact_point_id"] == token["contact_point_id"]
    assert renewed["value"] == "…" + (FCM + "b")[-6:]
    assert len(listed(parley, ada, renewed["position"])) == 2


def test_beyond_the_limit_a_new_contact_point_is_refused(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    for n in range(LIMIT):
        add(parley, ada, "email", {"address": f"ada{n}@example.com"})
    refused = parley.http.post(f"{POINTS}/phone", json={"number": "+442079460018"},
                               headers=ada.auth)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    add(parley, ada, "email", {"address": "ada0@example.com"}, status=200)


def test_someone_elses_contact_point_answers_as_a_random_id(parley: ParleyClient) -> None:
    ada, eve = parley.register("Ada"), parley.register("Eve")
    hook = add(parley, ada, "webhooks", {"url": "https://bots.example.com/ada"})
    add(parley, eve, "webhooks", {"url": "https://bots.example.com/eve"})
    for method, suffix in (("POST", "/rotate-secret"), ("DELETE", "")):
        theirs = parley.http.request(method, f"{POINTS}/{hook['contact_point_id']}{suffix}",
                                     headers=eve.auth)
        random = parley.http.request(method, f"{POINTS}/{uuid.uuid4()}{suffix}",
                                     headers=eve.auth)
        assert theirs.status_code == 404
        assert answer_of(theirs) == answer_of(random)
    anyone = parley.http.delete(f"{POINTS}/{hook['contact_point_id']}")
    assert anyone.status_code == 401
    still = listed(parley, ada, hook["position"])
    assert [p["contact_point_id"] for p in still] == [hook["contact_point_id"]]


def verify(parley: ParleyClient, token: str) -> httpx.Response:
    return parley.http.post("/v1/contact-points/verify", json={"token": token})


def test_an_email_address_is_verified_by_the_token_its_link_carries(
        parley: ParleyClient, deployment: Deployment) -> None:
    ada = parley.register("Ada")
    added = add(parley, ada, "email", {"address": "ada@example.com"})
    assert set(added) == {"contact_point_id", "kind", "value", "verified", "device_id",
                          "position"}  # never the token: only the mailbox may see it
    token = deployment.verification.token(uuid.UUID(ada.user_id),
                                          uuid.UUID(added["contact_point_id"]),
                                          datetime.now(UTC))
    verified = verify(parley, token)
    assert verified.status_code == 200, verified.text
    assert verified.json()["verified"] is True
    [point] = listed(parley, ada, verified.json()["position"])
    assert point["verified"] is True
    assert verify(parley, token).status_code == 200  # the link clicked twice
    assert add(parley, ada, "email", {"address": "ada@example.com"}, 200)["verified"] is True


def test_an_expired_tampered_or_stale_token_gets_one_and_the_same_answer(
        parley: ParleyClient, deployment: Deployment) -> None:
    ada = parley.register("Ada")
    added = add(parley, ada, "email", {"address": "ada@example.com"})
    user, point = uuid.UUID(ada.user_id), uuid.UUID(added["contact_point_id"])
    good = deployment.verification.token(user, point, datetime.now(UTC))
    expired = EmailVerification(deployment.verification.key, ttl_seconds=-1).token(
        user, point, datetime.now(UTC))
    tampered = good[:-2] + ("AA" if good[-2:] != "AA" else "BB")
    forged = EmailVerification(b"x" * 32).token(user, point, datetime.now(UTC))
    other = deployment.verification.token(user, uuid.uuid4(), datetime.now(UTC))
    removed = parley.http.delete(f"{POINTS}/{point}", headers=ada.auth)
    assert removed.status_code == 200
    answers = [answer_of(verify(parley, t)) for t in (expired, tampered, forged, other, good,
                                                      "garbage")]
    assert answers[0][0] == 422, answers[0]
    assert all(answer == answers[0] for answer in answers), answers
    assert listed(parley, ada, removed.json()["position"]) == []


def test_a_webhook_secret_is_answered_once_and_never_listed_or_logged(
        parley: ParleyClient, deployment: Deployment) -> None:
    ada = parley.register("Ada")
    first = add(parley, ada, "webhooks", {"url": "https://bots.example.com/parley"})
    secret = first["secret"]
    assert secret.startswith("whsec_") and len(base64.b64decode(secret[6:])) == 32
    again = add(parley, ada, "webhooks", {"url": "https://bots.example.com/parley"}, 200)
    assert again.get("secret") is None
    rotated = parley.http.post(f"{POINTS}/{first['contact_point_id']}/rotate-secret",
                               headers=ada.auth)
    assert rotated.status_code == 200, rotated.text
    renewed = rotated.json()["secret"]
    assert renewed.startswith("whsec_") and renewed != secret
    listing = parley.http.get(POINTS, params={"position": rotated.json()["position"]},
                              headers=ada.auth)
    assert secret not in listing.text and renewed not in listing.text
    phone = add(parley, ada, "phone", {"number": "+442079460018"})
    not_a_webhook = parley.http.post(f"{POINTS}/{phone['contact_point_id']}/rotate-secret",
                                     headers=ada.auth)
    assert not_a_webhook.status_code == 409, not_a_webhook.text
    logs = deployment.logs()
    for private in (secret, renewed, "+442079460018", "bots.example.com/parley"):
        assert private not in logs


BAD_INPUT = [
    ("email", {"address": "ada@"}, "address"),
    ("email", {}, "address"),
    ("phone", {"number": "+1 555"}, "number"),
    ("phone", {"number": "020 7946 0018", "region": "XX"}, "region"),
    ("web-push", {"endpoint": "http://push.example.net/1", "keys": {"p256dh": "x", "auth": AUTH}},
     "endpoint"),
    ("web-push", {"endpoint": "https://push.example.net/1",
                  "keys": {"p256dh": "BAAA", "auth": AUTH}}, "keys.p256dh"),
    ("web-push", {"endpoint": "https://push.example.net/1", "keys": {"p256dh": a_p256dh(),
                                                                     "auth": "AAAA"}},
     "keys.auth"),
    ("push-tokens", {"kind": "apns", "token": "not hex"}, "token"),
    ("push-tokens", {"kind": "hms", "token": FCM}, "kind"),
    ("webhooks", {"url": "http://bots.example.com/hook"}, "url"),
    ("webhooks", {"url": "https://user:pw@bots.example.com/hook"}, "url"),
]


@pytest.fixture(scope="module")
def someone(deployment: Deployment) -> Person:
    with httpx.Client(base_url=deployment.processes.base_url, timeout=30) as http:
        return ParleyClient(http).register("Someone")


@pytest.mark.parametrize(("kind", "body", "field"), BAD_INPUT)
def test_bad_input_is_a_clear_422_naming_the_field(
        parley: ParleyClient, someone: Person, kind: str, body: dict[str, Any],
        field: str) -> None:
    refused = parley.http.post(f"{POINTS}/{kind}", json=body, headers=someone.auth)
    assert refused.status_code == 422, refused.text
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert field in [e["field"] for e in refused.json()["errors"]], refused.text


def test_refused_input_adds_nothing(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    for kind, body, _ in BAD_INPUT:
        assert parley.http.post(f"{POINTS}/{kind}", json=body,
                                headers=ada.auth).status_code == 422
    after = add(parley, ada, "email", {"address": "ada.after@example.com"})
    assert [p["value"] for p in listed(parley, ada, after["position"])] == [
        "ada.after@example.com"]


def test_push_registrations_belong_to_the_device_that_made_them(parley: ParleyClient) -> None:
    ada = parley.register("Ada")
    signed_in = parley.http.post("/v1/sessions", json={
        "handle": ada.handle, "password": PASSWORD,
        "device_name": "tablet"})
    assert signed_in.status_code in (200, 201), signed_in.text
    tablet = Person(ada.user_id, ada.handle, signed_in.json()["access_token"])
    on_phone = add(parley, ada, "push-tokens", {"kind": "apns", "token": APNS})
    on_tablet = add(parley, tablet, "push-tokens", {"kind": "apns", "token": "ab" * 32})
    assert on_phone["device_id"] != on_tablet["device_id"] == signed_in.json()["device_id"]
    assert len(listed(parley, ada, on_tablet["position"])) == 2


def test_a_device_signed_out_loses_its_push_registrations(parley: ParleyClient) -> None:
    """A process manager follows the sign-out; read, bounded, until it has."""
    ada = parley.register("Ada")
    signed_in = parley.http.post("/v1/sessions", json={
        "handle": ada.handle, "password": PASSWORD, "device_name": "tablet"})
    assert signed_in.status_code in (200, 201), signed_in.text
    tablet = Person(ada.user_id, ada.handle, signed_in.json()["access_token"])
    add(parley, tablet, "push-tokens", {"kind": "fcm", "token": FCM})
    kept = add(parley, ada, "push-tokens", {"kind": "apns", "token": APNS})
    revoked = parley.http.delete(f"/v1/devices/{signed_in.json()['device_id']}",
                                 headers=ada.auth)
    assert revoked.status_code == 200, revoked.text
    deadline = time.monotonic() + 20
    while True:
        kinds = [p["kind"] for p in listed(parley, ada, kept["position"])]
        if kinds == ["apns"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert kinds == ["apns"]


def test_a_verification_link_opens_a_page_that_posts_its_token(
        parley: ParleyClient, deployment: Deployment) -> None:
    """The page the email's link opens runs one script, allowed by its hash and nothing else,
    which posts the fragment's token to the verification route beside it."""
    link = verification_link(deployment.processes.base_url, "v1.abc.def")
    assert link.endswith("/verify-email#token=v1.abc.def")
    page = parley.http.get(link.split("#")[0])
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    [script] = re.findall(r"<script>(.*?)</script>", page.text, re.DOTALL)
    digest = base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    policy = page.headers["content-security-policy"]
    assert f"script-src 'sha256-{digest}';" in policy and "default-src 'none'" in policy
    assert page.headers["referrer-policy"] == "no-referrer"
    assert 'fetch("v1/contact-points/verify"' in script and "location.hash" in script
    assert parley.http.post("/v1/contact-points/verify", json={"token": "v1.abc.def"}
                            ).status_code == 422
