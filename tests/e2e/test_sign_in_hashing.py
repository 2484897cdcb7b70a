"""A burst of sign-ins fills only the hashing pool: past its queue they get 503 with
Retry-After, and authenticated requests go on answering meanwhile (they never queue behind
password hashes). The pool is the same code on both profiles, so this runs embedded."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, a_handle

BURST = 12


@pytest.mark.parley_env(PARLEY_PASSWORD_HASH_WORKERS="1", PARLEY_PASSWORD_HASH_QUEUE="3")
def test_a_burst_of_sign_ins_is_refused_past_the_hashing_queue_and_others_are_served_meanwhile(
    parley: ParleyClient, processes: ParleyProcesses,
) -> None:
    ada = parley.register("Ada")
    answered: list[tuple[float, httpx.Response]] = []
    first_refusal = threading.Event()

    def wrong_sign_in(_: int) -> None:
        with httpx.Client(base_url=processes.base_url, timeout=60) as http:
            response = http.post("/v1/sessions", json={
                "handle": a_handle(), "password": "not anyone's password", "device_name": "x"})
        answered.append((time.monotonic(), response))
        if response.status_code == 503:
            first_refusal.set()

    with ThreadPoolExecutor(BURST) as burst:
        for i in range(BURST):
            burst.submit(wrong_sign_in, i)
        assert first_refusal.wait(30), [r.status_code for _, r in answered]
        me = parley.http.get("/v1/users/me", headers=ada.auth)  # while 4 hashes are in flight
        me_answered = time.monotonic()
    assert me.status_code == 200, me.text
    statuses = sorted(r.status_code for _, r in answered)
    assert statuses.count(401) >= 4 and 503 in statuses, statuses
    assert set(statuses) <= {401, 503}
    refused = next(r for _, r in answered if r.status_code == 503)
    assert refused.headers["content-type"] == "application/problem+json"
    assert int(refused.headers["retry-after"]) >= 1
    # the profile answered before the hashes that were running when it was asked
    assert me_answered < max(at for at, r in answered if r.status_code == 401)
