"""Password hashing runs on its own bounded pool: beyond it, HashingBusy at once; the default
executor (where every request's device check runs) stays free while hashing is saturated."""

from __future__ import annotations

import asyncio
import threading

import pytest

from adapters.identity.password_hashing import HashingBusy, PasswordHashing


class BlockingPasswords:
    """Hashes only when released, so the pool stays saturated for as long as a test needs."""

    decoy_hash = "decoy"

    def __init__(self) -> None:
        self.release = threading.Event()

    def hash(self, password: str) -> str:
        assert self.release.wait(10), "the test never released the hashes"
        return f"hashed {password}"

    def verify(self, password_hash: str, password: str) -> bool:
        return password_hash == self.hash(password)


def test_beyond_workers_plus_queue_a_hash_is_refused_at_once_and_requests_still_run() -> None:
    async def scenario() -> None:
        passwords = BlockingPasswords()
        hashing = PasswordHashing(passwords, workers=1, queue_limit=2)
        try:
            accepted = [asyncio.ensure_future(hashing.hash(f"pw{i}")) for i in range(3)]
            await asyncio.sleep(0)
            with pytest.raises(HashingBusy):
                await hashing.hash("one too many")
            # the default executor, where authentication runs, is not behind the hashes
            assert await asyncio.wait_for(asyncio.to_thread(lambda: "device in force"), 5)
            assert not any(task.done() for task in accepted)
            passwords.release.set()
            assert await asyncio.wait_for(asyncio.gather(*accepted), 10) == [
                "hashed pw0", "hashed pw1", "hashed pw2"]
            assert await hashing.hash("room again") == "hashed room again"
        finally:
            passwords.release.set()
            hashing.close()

    asyncio.run(scenario())


def test_a_cancelled_sign_in_gives_its_place_back() -> None:
    async def scenario() -> None:
        passwords = BlockingPasswords()
        hashing = PasswordHashing(passwords, workers=1, queue_limit=1)
        try:
            running = asyncio.ensure_future(hashing.hash("running"))
            waiting = asyncio.ensure_future(hashing.hash("waiting"))
            await asyncio.sleep(0)
            waiting.cancel()  # the client went away before a worker took its hash
            await asyncio.sleep(0.05)
            third = asyncio.ensure_future(hashing.hash("third"))
            passwords.release.set()
            assert await asyncio.wait_for(asyncio.gather(running, third), 10) == [
                "hashed running", "hashed third"]
        finally:
            passwords.release.set()
            hashing.close()

    asyncio.run(scenario())


def test_a_full_hashing_pool_is_answered_503_with_retry_after_by_the_shared_problem_handlers(
) -> None:
    from fastapi import FastAPI
    from fastapi.testclient import TestClient

    from api.http.problems import install_problem_handlers

    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/sessions")
    async def sign_in() -> None:
        raise HashingBusy("too many sign-ins at once")

    with TestClient(app) as client:
        answer = client.post("/sessions")
    assert answer.status_code == 503 and answer.headers["Retry-After"] == "1"
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json() == {"type": "about:blank", "title": "Service unavailable",
                             "status": 503,
                             "detail": "too many sign-ins at once; retry after the given seconds"}
