"""One Parley in process for the payments end-to-end tests: the embedded profile with rules
that hold for review any payment over 50.00 USD (a sender's 24 h amount above it scores 60;
review at 50, decline at 100), the app in a `TestClient`, and the calls the tests share."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from api.app import create_app
from commands.identity.roles import GrantRole
from commands.payments.transfers import RecordTransfers
from domain.payments.accounts import FUNDING_CLEARING, system_account, wallet
from domain.payments.transfers import CreateTransfer
from parley.assembly import Parley
from parley.bootstrap import build
from parley.settings import Settings
from tests.builders import ParleyClient, Person, a_cause

REVIEW_OVER = 5_000  # minor units of USD: a payment above this is held for review
RULES = {"review_at": 50, "decline_at": 100, "rules": [
    {"kind": "sender_velocity_amount", "enabled": True, "score": 60,
     "params": {"window_seconds": 86400, "max_amount": REVIEW_OVER}}]}
ENDED = ("settled", "partially_refunded", "refunded", "declined", "failed", "reversed")


def payment_settings(data_dir: Path) -> Settings:
    return Settings(database_url=None, data_dir=data_dir, payment_rules=json.dumps(RULES),
                    payment_fee_basis_points=100, send_rate_per_second=100000,
                    send_burst=100000, signin_attempts_per_minute=1000000,
                    signin_source_free_failures=1000000, password_hash_queue=1000)


@dataclass
class Payments:
    parley: Parley
    http: TestClient
    client: ParleyClient
    data_dir: Path

    def person(self, name: str = "Ada") -> Person:
        return self.client.register(name)

    def pair(self) -> tuple[Person, Person, str]:
        """Two people in a direct conversation: (ada, bob, conversation_id)."""
        ada, bob = self.person("Ada"), self.person("Bob")
        self.client.befriend(ada, bob)
        return ada, bob, self.client.open_direct(ada, bob)

    def fund(self, person: Person, minor_units: int, currency: str = "USD") -> int:
        """Credits the wallet from funding clearing; the log position it was recorded at."""
        return self.parley.writer.execute(RecordTransfers((CreateTransfer(
            uuid.uuid4(), system_account(FUNDING_CLEARING, currency),
            wallet(uuid.UUID(person.user_id), currency), minor_units, "funding"),),
            datetime.now(UTC)), a_cause()).position

    def grant(self, person: Person, role: str) -> None:
        self.parley.writer.execute(GrantRole(uuid.UUID(person.user_id), role, "tests"),
                                   a_cause())

    def send(self, sender: Person, conversation: str, body: dict[str, Any],
             key: str | None = None) -> httpx.Response:
        headers = sender.auth | {"Idempotency-Key": key or uuid.uuid4().hex}
        return self.http.post(f"/v1/conversations/{conversation}/payments", json=body,
                              headers=headers)

    def post(self, person: Person, path: str, body: dict[str, Any] | None = None,
             key: str | None = None) -> httpx.Response:
        return self.http.post(path, json=body or {}, headers=person.auth | {
            "Idempotency-Key": key or uuid.uuid4().hex})

    def payment(self, person: Person, payment_id: str) -> httpx.Response:
        return self.http.get(f"/v1/payments/{payment_id}", headers=person.auth)

    def until(self, person: Person, payment_id: str, *states: str) -> dict[str, Any]:
        """The payment once its status is one of `states` (waited for: the saga is async)."""
        deadline = time.monotonic() + 20
        while True:
            body: dict[str, Any] = self.payment(person, payment_id).json()
            if body.get("status") in states:
                return body
            assert time.monotonic() < deadline, body
            time.sleep(0.05)


def in_process(data_dir: Path) -> Iterator[Payments]:
    parley = build(payment_settings(data_dir))
    with TestClient(create_app(parley)) as http:
        yield Payments(parley, http, ParleyClient(http), data_dir)
