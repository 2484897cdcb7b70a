"""Sign-in, registration and refresh are throttled per address and per account (429 with
Retry-After), with a backoff that even the right password must wait out; failures are logged
without the handle or the password."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from parley.launcher import ParleyProcesses
from parley.settings import Settings
from tests.builders import ParleyClient, a_handle
from tests.e2e.conftest import PROFILES

pytestmark = PROFILES
PASSWORD = "correct horse battery"


def real_default(name: str) -> str:
    return str(Settings.model_fields[name].default)


# the defaults a deployment gets, not the generous ones the other e2e tests run with
REAL_DEFAULTS = pytest.mark.parley_env(
    PARLEY_SIGNIN_ATTEMPTS_PER_MINUTE=real_default("signin_attempts_per_minute"),
    PARLEY_SIGNIN_SOURCE_FREE_FAILURES=real_default("signin_source_free_failures"),
    PARLEY_PASSWORD_HASH_QUEUE=real_default("password_hash_queue"),
)


def sign_in(parley: ParleyClient, handle: str, password: str) -> httpx.Response:
    return parley.http.post("/v1/sessions", json={"handle": handle, "password": password,
                                                  "device_name": "laptop"})


def assert_told_to_wait(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert response.json()["status"] == 429


@REAL_DEFAULTS
def test_the_right_password_is_refused_until_the_backoff_after_many_wrong_ones_passes(
    parley: ParleyClient,
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    free = int(real_default("signin_free_failures"))
    wrong = [sign_in(parley, ada.handle, f"wrong guess {i}").status_code for i in range(free)]
    assert wrong == [401] * free
    statuses = []
    for i in range(5):  # the first lock is a second long: one more guess, then refused
        statuses.append(sign_in(parley, ada.handle, f"another guess {i}").status_code)
        if statuses[-1] == 429:
            break
    assert statuses[-1] == 429, statuses
    assert_told_to_wait(sign_in(parley, ada.handle, PASSWORD))
    assert sign_in(parley, bob.handle, PASSWORD).status_code == 201  # others are unaffected


@pytest.mark.parley_env(PARLEY_SIGNIN_ATTEMPTS_PER_MINUTE="3")
def test_an_address_trying_too_often_is_told_when_to_retry_at_each_door(
    parley: ParleyClient,
) -> None:
    sign_ins = [sign_in(parley, a_handle(), PASSWORD) for _ in range(4)]
    assert [r.status_code for r in sign_ins[:3]] == [401] * 3
    assert_told_to_wait(sign_ins[3])
    stale = f"{uuid.uuid4()}.{uuid.uuid4()}.not-a-real-secret"
    refreshes = [parley.http.post("/v1/sessions/refresh", json={"refresh_token": stale})
                 for _ in range(4)]
    assert [r.status_code for r in refreshes[:3]] == [401] * 3
    assert_told_to_wait(refreshes[3])
    registrations = [parley.http.post("/v1/users", json={
        "handle": a_handle(), "name": "Ada", "password": PASSWORD}) for _ in range(4)]
    assert [r.status_code for r in registrations[:3]] == [201] * 3
    assert_told_to_wait(registrations[3])


def test_a_failed_sign_in_is_logged_without_the_handle_or_the_password(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada = parley.register("Ada")
    assert sign_in(parley, ada.handle, "a wrong secret guess").status_code == 401
    processes.wait_until_logged("serve", "sign-in_failed", timeout=10)
    log = (processes.logs / "serve.log").read_text()
    failures = [json.loads(line) for line in log.splitlines() if "sign-in_failed" in line]
    assert failures and failures[0]["source"] == "127.0.0.1"
    assert len(failures[0]["account"]) == 32  # a keyed digest, the same for each attempt
    assert ada.handle not in log and "a wrong secret guess" not in log
