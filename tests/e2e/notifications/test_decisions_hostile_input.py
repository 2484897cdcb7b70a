"""Schemathesis against this issue's notification routes on the embedded default, in process:
preferences, SMS consent, the inbound SMS webhook, compliance time travel, templates, the
decision trace, analytics and the trigger (dedup keys, digests, template variables, locale).
Each is called as the caller it is meant for (an admin who is also a user; the trigger with a
service's key; the webhook unsigned), so the fuzzed input reaches the route's own checks.
No answer is a 5xx, and every 4xx is application/problem+json. Bounded: a few examples per
operation, a fixed seed; the run takes well under a minute.

What the fuzzer cannot state (who may see what) is in the authorization matrix
(tests/e2e/test_authorization_matrix.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi import checks as openapi_checks

from api.app import create_app
from commands.identity.roles import GrantRole
from domain.notifications.preferences import notification_preferences_id
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import ParleyClient, a_cause, an_api_key

EXAMPLES_PER_OPERATION = 6
PREFERENCES = "/v1/users/me/notification-preferences"
TEMPLATES = "/v1/admin/notification-templates"
PUBLIC_URL = "https://parley.example"
# configured, so the inbound webhook's verifiers run (nothing is sent to these endpoints)
PROVIDERS = [{"name": "twilio-main", "kind": "twilio", "account_sid": "AC" + "0" * 32,
              "auth_token": "t" * 32, "from_number": "+15005550006",
              "endpoint": "https://127.0.0.1:9", "timeout_seconds": 2},
             {"name": "vonage-main", "kind": "vonage", "api_key": "key", "api_secret": "s",
              "from": "Parley", "signature_secret": "v" * 32,
              "endpoint": "https://127.0.0.1:9", "timeout_seconds": 2}]
NEW_ROUTES = (r"^/v1/users/me/(notification-preferences|sms-consent)$"
              r"|^/v1/notifications/callbacks/sms/\{provider\}/inbound$"
              r"|^/v1/admin/compliance/users/\{user_id\}$"
              r"|^/v1/admin/notification-templates"
              r"|^/v1/notifications/\{notification_id\}/trace$"
              r"|^/v1/admin/notifications/analytics$"
              r"|^/v1/notifications$")
ACCEPTED: dict[Any, str] = {
    # random ids name nothing, and a fuzzed body rarely names a real user or template
    openapi_checks.positive_data_acceptance: "random ids name nothing: refused 404/409/422",
    openapi_checks.ignored_auth: "the authorization matrix checks who may call what",
    openapi_checks.use_after_free: "stateful links are not declared",
    openapi_checks.ensure_resource_availability: "stateful links are not declared",
}
CONFIG = schemathesis.Config.from_dict({"checks": {"negative_data_rejection": {
    "expected-statuses": ["400", "401", "403", "404", "405", "406", "409", "413", "415", "422",
                          "428", "429"]}}})


class World:
    def __init__(self, app: FastAPI, http: TestClient, user_token: str,
                 service_key: str) -> None:
        self.app, self.http = app, http
        self.user_token, self.service_key = user_token, service_key

    def send(self, case: Any, headers: dict[str, str]) -> httpx.Response:
        """The case through the in-process client (schemathesis' own ASGI transport would
        start the app's lifespan a second time)."""
        sent = case.as_transport_kwargs(headers=headers)
        data = sent.pop("data", None)
        if isinstance(data, bytes | str):
            sent["content"] = data
        elif data is not None:
            sent["data"] = data
        sent.pop("verify", None)
        if not sent.get("cookies"):
            sent.pop("cookies", None)
        return self.http.request(**sent)

    def headers_for(self, case: Any) -> dict[str, str]:
        if case.path.startswith("/v1/notifications/callbacks/"):
            return {}  # a provider signs its webhook, or it is refused: fuzzed unsigned
        if case.path == "/v1/notifications" and case.method in ("POST", "DELETE"):
            return {"Authorization": f"Bearer {self.service_key}"}
        return {"Authorization": f"Bearer {self.user_token}"}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data_dir = Path(tmp_path_factory.mktemp("hostile-input")) / "data"
    parley = build(Settings(database_url=None, data_dir=data_dir, public_url=PUBLIC_URL,
                            consistency_wait_seconds=0.2,
                            notification_providers=json.dumps(PROVIDERS)))
    app = create_app(parley)
    with TestClient(app) as http:
        person = ParleyClient(http).register("Ada Admin")
        parley.writer.execute(GrantRole(uuid.UUID(person.user_id), "admin", "tests"),
                              a_cause())
        issue, key = an_api_key("notifications:trigger", name="fuzzing service")
        parley.writer.execute(issue, a_cause())
        yield World(app, http, person.token, key.presented)


@pytest.fixture
def new_routes(world: World, request: pytest.FixtureRequest) -> Any:
    request.node._nodeid = request.node.nodeid  # schemathesis 4.32's lazy loader on pytest 9
    return schemathesis.openapi.from_dict(world.app.openapi(), config=CONFIG)


schema = schemathesis.pytest.from_fixture("new_routes").include(path_regex=NEW_ROUTES)


@schema.parametrize()
@settings(max_examples=EXAMPLES_PER_OPERATION, deadline=None, derandomize=True,
          suppress_health_check=list(HealthCheck))
def test_no_new_route_answers_a_5xx_or_a_4xx_without_a_problem(case: Any,
                                                               world: World) -> None:
    if case.query and "position" in case.query:
        case.query["position"] = 0  # a position the log has not reached waits, then 503s
    if case.headers:  # the caller's own credentials, so the input reaches the route's checks
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
    headers = world.headers_for(case)
    response = world.send(case, headers)
    case.validate_response(response, excluded_checks=list(ACCEPTED), headers=headers)
    assert response.status_code < 500, response.text
    if 400 <= response.status_code < 500:
        assert response.headers["content-type"] == "application/problem+json", response.text


def problem_fields(world: World, path: str) -> set[str]:
    response = world.http.get(path, headers={"Authorization": f"Bearer {world.user_token}"})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return {error["field"] for error in response.json()["errors"]}


@pytest.mark.parametrize(("query", "fields"), [
    ("to=0.5", {"query.to"}), ("to=-1", {"query.to"}),
    ("from=0&to=1", {"query.from", "query.to"}), ("to=2025-01-01T00:00:00", {"to"}),
    ("from=2025-01-01T00:00:00&to=2025-01-02T00:00:00Z", {"from"})])
def test_an_analytics_time_that_is_a_number_or_has_no_offset_is_refused_naming_it(
        world: World, query: str, fields: set[str]) -> None:
    assert problem_fields(world, f"/v1/admin/notifications/analytics?{query}") == fields


@pytest.mark.parametrize("name", ["Europe", "America/Argentina", "localtime", "posixrules",
                                  "posix/Europe/London", "right/Europe/London"])
def test_a_zoneinfo_folder_or_file_that_is_not_an_iana_zone_is_refused_and_changes_nothing(
        world: World, name: str) -> None:
    """A folder made ZoneInfo raise IsADirectoryError (a 500); the server's own zone and the
    leap-second copies under right/ were accepted."""
    path, auth = PREFERENCES, {"Authorization": f"Bearer {world.user_token}"}
    before = world.http.get(path, headers=auth).json()
    response = world.http.put(path, headers=auth, json={"time_zone": name})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["time_zone"]
    assert world.http.get(path, headers=auth).json() == before


@pytest.mark.parametrize("body", ["{{ " + "(" * 100 + "1" + ")" * 100 + " }}",
                                  "{% if 1 %}" * 100 + "x" + "{% endif %}" * 100])
def test_a_template_nested_too_deeply_is_a_422_naming_its_part_and_saves_nothing(
        world: World, body: str) -> None:
    """It was a RecursionError (or Python's own SyntaxError) in the writer: a 500."""
    auth = {"Authorization": f"Bearer {world.user_token}"}
    before = world.http.get(TEMPLATES, headers=auth).json()
    response = world.http.post(TEMPLATES, headers=auth, json={
        "category": "account", "channel": "in_app", "locale": "fr", "title": "Hi",
        "body": body})
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["body"]
    assert "it nests too deeply" in response.json()["detail"]
    assert world.http.get(TEMPLATES, headers=auth).json() == before


def test_compliance_for_an_id_that_is_not_a_user_answers_as_a_random_id(world: World) -> None:
    """A template's or a preferences aggregate's id was answered 200 as a user with no
    consents: evidence about nobody."""
    auth = {"Authorization": f"Bearer {world.user_token}"}
    assert world.http.put(PREFERENCES, headers=auth, json={"locale": "en"}).status_code == 200
    made = world.http.post(TEMPLATES, headers=auth, json={
        "category": "account", "channel": "in_app", "locale": "de", "title": "Hallo",
        "body": "Willkommen"})
    assert made.status_code == 201, made.text
    me = world.http.get("/v1/users/me", headers=auth).json()["user_id"]

    def answer(some_id: object) -> tuple[int, str]:
        response = world.http.get(f"/v1/admin/compliance/users/{some_id}", headers=auth)
        return response.status_code, response.json().get("detail", "")

    assert answer(me)[0] == 200
    for not_a_user in (made.json()["template_id"],
                       notification_preferences_id(uuid.UUID(me))):
        assert answer(not_a_user) == answer(uuid.uuid4()) == (404, "no such user")


@pytest.mark.parametrize("stamp", ["9" * 400, "-" + "9" * 400])
@pytest.mark.parametrize("as_json", [False, True], ids=["form", "json"])
def test_an_unsigned_inbound_text_with_a_timestamp_past_any_float_is_the_same_403(
        world: World, stamp: str, as_json: bool) -> None:
    """Vonage's freshness check took the stamp as a float: an OverflowError, a 500 to anyone."""
    fields = {"msisdn": "447911123456", "to": "15005550006", "messageId": "m-1",
              "text": "STOP", "type": "text", "timestamp": stamp, "sig": "ab" * 32}
    path = "/v1/notifications/callbacks/sms/vonage-main/inbound"
    response = (world.http.post(path, json=fields | {"timestamp": int(stamp)}) if as_json else
                world.http.post(path, data=fields))
    assert response.status_code == 403, response.text
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize("provider", ["twilio-main", "vonage-main"])
def test_an_inbound_json_body_nested_past_the_parsers_depth_is_a_400_not_a_500(
        world: World, provider: str) -> None:
    response = world.http.post(f"/v1/notifications/callbacks/sms/{provider}/inbound",
                               content="[" * 50_000,
                               headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
