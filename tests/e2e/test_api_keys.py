"""Service callers present API keys: a key works the moment it is made and stops the moment it
is revoked, only for its scopes, and is never shown again, logged or listed. Embedded profile,
in process, with a tiny router (only in this test's app) that requires each scope."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.app import create_app
from api.http.service_callers import ServiceCaller, require_scope
from commands.identity.api_keys import NewApiKey, RevokeApiKey
from domain.identity.roles import operator_actor_id
from event_log.aggregate import Cause
from parley.assembly import Parley
from parley.bootstrap import build
from parley.cli import app as cli
from parley.settings import Settings
from tests.builders import ParleyClient, an_api_key, answer_of, now

TRIGGER, READ = "notifications:trigger", "notifications:read"

service_routes = APIRouter()


@service_routes.post("/test/service/trigger")
async def trigger(caller: Annotated[ServiceCaller, Depends(require_scope(TRIGGER))]
                  ) -> dict[str, Any]:
    return {"key_id": caller.key_id, "name": caller.name, "scopes": sorted(caller.scopes)}


@service_routes.get("/test/service/read")
async def read(caller: Annotated[ServiceCaller, Depends(require_scope(READ))]) -> dict[str, str]:
    return {"key_id": caller.key_id}


@service_routes.get("/test/service/misconfigured")
async def misconfigured(
        caller: Annotated[ServiceCaller, Depends(require_scope("notifications:everything"))],
) -> dict[str, str]:
    return {"key_id": caller.key_id}


class Service:
    """The running Parley, its HTTP client, and the operator's means to make keys."""

    def __init__(self, parley: Parley, http: TestClient, data_dir: Path) -> None:
        self.parley, self.http, self.data_dir = parley, http, data_dir
        # answers a server error as the server would, rather than raising it in the test
        self.as_served = TestClient(http.app, raise_server_exceptions=False)

    def issue(self, *scopes: str, name: str = "billing service") -> NewApiKey:
        command, key = an_api_key(*scopes, name=name, max_live=1000)
        self.parley.writer.execute(command, self.operator())
        return key

    def revoke(self, key: NewApiKey) -> None:
        self.parley.writer.execute(RevokeApiKey(key.key_id, now()), self.operator())

    @staticmethod
    def operator() -> Cause:
        return Cause(operator_actor_id("tests"), uuid.uuid4())

    def trigger(self, authorization: str | None) -> Any:
        headers = {} if authorization is None else {"Authorization": authorization}
        return self.http.post("/test/service/trigger", headers=headers)

    def cli(self, *args: str) -> Any:
        env = {"PARLEY_DATA_DIR": str(self.data_dir), "PARLEY_DATABASE_URL": "",
               "COLUMNS": "400"}
        return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    data = Path(tmp_path_factory.mktemp("api-keys"))
    settings = Settings.model_validate({"data_dir": str(data), "database_url": None,
                                        "consistency_wait_seconds": 10})
    parley = build(settings)
    app = create_app(parley)
    app.include_router(service_routes)
    with TestClient(app) as http:
        yield Service(parley, http, data)


def bearer(key: NewApiKey | str) -> str:
    return f"Bearer {key.presented if isinstance(key, NewApiKey) else key}"


def test_a_created_key_authenticates_at_once(service: Service) -> None:
    key = service.issue(TRIGGER, name="billing")
    answered = service.trigger(bearer(key))
    assert answered.status_code == 200, answered.text
    assert answered.json() == {"key_id": key.key_id, "name": "billing", "scopes": [TRIGGER]}


def test_a_revoked_key_is_refused_at_once(service: Service) -> None:
    key = service.issue(TRIGGER)
    assert service.trigger(bearer(key)).status_code == 200  # now in the aggregate cache
    service.revoke(key)
    refused = service.trigger(bearer(key))
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"


def test_a_key_without_the_routes_scope_is_forbidden(service: Service) -> None:
    key = service.issue(READ)
    allowed = service.http.get("/test/service/read", headers={"Authorization": bearer(key)})
    assert allowed.status_code == 200
    forbidden = service.trigger(bearer(key))
    assert forbidden.status_code == 403
    assert forbidden.headers["content-type"] == "application/problem+json"
    assert TRIGGER in forbidden.json()["detail"]


def test_a_users_access_token_is_no_service_key(service: Service) -> None:
    person = ParleyClient(service.http).register("Ada Lovelace")
    refused = service.trigger(person.auth["Authorization"])
    assert refused.status_code == 401
    assert refused.headers["www-authenticate"] == "Bearer"


def test_every_refused_key_gets_the_same_answer(service: Service) -> None:
    revoked, live = service.issue(TRIGGER), service.issue(TRIGGER)
    service.revoke(revoked)
    unknown = an_api_key()[1]
    person = ParleyClient(service.http).register("Bob")
    refusals = {
        "missing": service.trigger(None),
        "not bearer": service.trigger(f"Basic {live.presented}"),
        "malformed": service.trigger("Bearer pk_0123_abc"),
        "unknown": service.trigger(bearer(unknown)),
        "wrong secret": service.trigger(f"Bearer pk_{live.key_id}_{unknown.secret}"),
        "revoked": service.trigger(bearer(revoked)),
        "a user's token": service.trigger(person.auth["Authorization"]),
    }
    answers = {why: answer_of(response) for why, response in refusals.items()}
    first = answers["missing"]
    assert first[0] == 401 and first[1]["www-authenticate"] == "Bearer"
    assert first[1]["content-type"] == "application/problem+json"
    assert {why: answer == first for why, answer in answers.items()} == dict.fromkeys(
        answers, True)


def test_a_route_requiring_an_unknown_scope_fails_for_everyone(service: Service) -> None:
    key = service.issue(*("notifications:trigger", "notifications:read", "notifications:admin"))
    failed = service.as_served.get("/test/service/misconfigured",
                              headers={"Authorization": bearer(key)})
    assert failed.status_code == 500


def test_the_cli_creates_lists_and_revokes_a_key(service: Service) -> None:
    created = service.cli("apikeys", "create", "--name", "alerts", "--scope", TRIGGER,
                          "--scope", READ)
    assert created.exit_code == 0, created.output
    presented = created.stdout.strip()
    key_id = presented.split("_")[1]
    assert presented.startswith(f"pk_{key_id}_") and len(presented.splitlines()) == 1
    assert service.trigger(bearer(presented)).status_code == 200  # at once, from the log

    listed = service.cli("apikeys", "list", "--json")
    assert listed.exit_code == 0
    rows = [row for row in _json_lines(listed.stdout) if row["key_id"] == key_id]
    assert rows == [{"key_id": key_id, "name": "alerts", "scopes": [TRIGGER, READ],
                     "created": rows[0]["created"], "revoked": None,
                     "created_by": rows[0]["created_by"]}]
    table = service.cli("apikeys", "list").stdout
    assert key_id in table and "alerts" in table
    secret = presented.split("_", 2)[2]
    assert secret not in listed.stdout and secret not in table

    revoked = service.cli("apikeys", "revoke", key_id)
    assert revoked.exit_code == 0 and "revoked at position" in revoked.stdout
    assert service.trigger(bearer(presented)).status_code == 401
    again = service.cli("apikeys", "revoke", key_id)
    assert again.exit_code == 0 and "revoked already" in again.stdout
    relisted = [r for r in _json_lines(service.cli("apikeys", "list", "--json").stdout)
                if r["key_id"] == key_id]
    assert relisted[0]["revoked"] is not None


def test_the_cli_refuses_an_unknown_scope_and_an_unknown_key(service: Service) -> None:
    refused = service.cli("apikeys", "create", "--name", "x", "--scope", "admin")
    assert refused.exit_code == 2 and "unknown scope 'admin'" in refused.stderr
    assert refused.stdout == ""
    missing = service.cli("apikeys", "revoke", "0123456789abcdef")
    assert missing.exit_code == 2 and "no API key" in missing.stderr


def test_a_key_never_reaches_the_logs(service: Service, caplog: pytest.LogCaptureFixture
                                      ) -> None:
    key, revoked = service.issue(READ), service.issue(TRIGGER)
    service.revoke(revoked)
    with caplog.at_level(logging.DEBUG):
        service.trigger(bearer(key))  # 403
        service.trigger(bearer(revoked))  # 401
        service.as_served.get("/test/service/misconfigured",
                              headers={"Authorization": bearer(key)})  # 500, logged
    assert caplog.records, "nothing was logged at all: the test would prove nothing"
    logged = "\n".join(f"{r.getMessage()} {vars(r)}" for r in caplog.records)
    for secret in (key.secret, revoked.secret, key.digest):
        assert secret not in logged


@pytest.mark.services
def test_the_cli_works_on_the_production_log(services: dict[str, str], namespace: str) -> None:
    import psycopg

    from commands.identity.api_keys import LoggedApiKeys
    from event_log.log import EventLog
    from migrations.runner import migrate
    from parley.assembly import event_log_env
    from parley.signing_keys import generate_key

    database_url = services["PARLEY_DATABASE_URL"]
    migrate(database_url, namespace)
    env = services | {"PARLEY_NAMESPACE": namespace, "PARLEY_SECRET_KEY": generate_key()}
    runner = CliRunner()
    log = EventLog(env=event_log_env(Settings(database_url=database_url, namespace=namespace)))
    try:
        created = runner.invoke(cli, ["apikeys", "create", "--name", "prod", "--scope", READ],
                                env=env, catch_exceptions=False)
        assert created.exit_code == 0, created.output
        presented = created.stdout.strip()
        key_id = presented.split("_")[1]
        keys = LoggedApiKeys(log.repository)  # another process's view of the same log
        assert keys.presented(presented) is not None
        listed = runner.invoke(cli, ["apikeys", "list", "--json"], env=env)
        assert [row["key_id"] for row in _json_lines(listed.stdout)] == [key_id]
        assert runner.invoke(cli, ["apikeys", "revoke", key_id], env=env).exit_code == 0
        assert keys.presented(presented) is None
    finally:
        log.close()
        with psycopg.connect(database_url, autocommit=True) as connection:
            connection.execute(f"DROP SCHEMA {namespace} CASCADE")


def _json_lines(text: str) -> list[dict[str, Any]]:
    import json

    return [json.loads(line) for line in text.splitlines() if line.strip()]
