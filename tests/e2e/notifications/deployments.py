"""One Parley per profile, as real processes, shared by the notification modules that test the
process boundary (test_contact_points.py, test_dead_letters_cli.py, test_parley_notifications.py):
starting `parley serve` (and in production `relay` and `project`) takes seconds to tens of seconds
on a loaded machine, so each module starting its own cost minutes of CI. Each test isolates itself
by the users, endpoints and addresses it makes, not by processes of its own.

The settings are the union of what those modules need: the FCM, SMTP and webhook providers
(each against its package-wide stand-in), loopback http for the webhook stand-in, at most
`MAX_CONTACT_POINTS` contact points per user, links under `PUBLIC_URL`."""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from domain.notifications.email_verification import EmailVerification
from parley.assembly import email_verification_key
from parley.launcher import ParleyProcesses
from parley.signing_keys import generate_key
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import GENEROUS_SIGN_IN_LIMITS, drop_indices
from tests.e2e.notifications import waiting
from tests.providers.credentials import service_account_key
from tests.providers.fcm import FcmStandIn
from tests.providers.smtp import SmtpRelay
from tests.providers.webhook_receiver import WebhookReceiver

ACCOUNT = service_account_key()
RELAY_USER, RELAY_PASSWORD = "relay-user", "s3cret-relay-pass"
PUBLIC_URL = "https://app.parley.test"
MAX_CONTACT_POINTS = 8
WITHIN_SECONDS = 40.0
"""How long a process module waits for what the processes do eventually."""
EACH_PROFILE = ["embedded", pytest.param("production", marks=pytest.mark.services)]
"""Params of a module's `deployment` fixture: `request.getfixturevalue(f"{profile}_deployment")`
(tests/e2e/notifications/conftest.py)."""


def provider_entries(fcm: FcmStandIn, relay: SmtpRelay) -> list[dict[str, Any]]:
    """FCM and SMTP against their stand-ins, and webhooks (a business's own endpoint)."""
    return [
        {"name": "fcm-main", "kind": "fcm", "project_id": fcm.project_id,
         "service_account": ACCOUNT.key_file(fcm.token_uri), "endpoint": fcm.url,
         "timeout_seconds": 3, "ca_file": fcm.ca_file},
        {"name": "smtp-main", "kind": "smtp", "host": relay.host, "port": relay.port,
         "security": "starttls", "username": RELAY_USER, "password": RELAY_PASSWORD,
         "from_address": "notifications@parley.test", "from_name": "Parley",
         "ca_file": relay.ca_file, "timeout_seconds": 3},
        {"name": "hooks", "kind": "webhook", "timeout_seconds": 5},
    ]


class Deployment:
    """Running Parley processes, the key they sign verification tokens with, and their logs."""

    def __init__(self, processes: ParleyProcesses, secret_key: str) -> None:
        self.processes = processes
        self.secret_key = secret_key
        self.verification = EmailVerification(email_verification_key(secret_key))

    def logs(self, tail: int | None = None) -> str:
        """Every process's log (the last `tail` characters of each, if given)."""
        return "".join(f"--- {path.name}\n{path.read_text(errors='replace')[-(tail or 0):]}"
                       for path in sorted(Path(self.processes.logs).glob("*.log")))


@contextlib.contextmanager
def deployed(profile: str, directory: Path, fcm: FcmStandIn, relay: SmtpRelay,
             services: dict[str, str] | None = None) -> Iterator[Deployment]:
    """Parley's processes of `profile` (production: on `services`, in a namespace of their
    own, whose indices go with them), stopped on the way out."""
    secret_key, namespace = generate_key(), f"t{uuid.uuid4().hex[:12]}"
    env = GENEROUS_SIGN_IN_LIMITS | {
        "PARLEY_DATA_DIR": str(directory / "data"), "PARLEY_SECRET_KEY": secret_key,
        "PARLEY_MAX_CONTACT_POINTS_PER_USER": str(MAX_CONTACT_POINTS),
        "PARLEY_SEND_RATE_PER_SECOND": "100000", "PARLEY_SEND_BURST": "100000",
        "PARLEY_NOTIFICATION_PROVIDERS": json.dumps(provider_entries(fcm, relay)),
        "PARLEY_NOTIFICATION_ALLOW_LOOPBACK_HTTP": "true",
        "PARLEY_PUBLIC_URL": PUBLIC_URL,
        "PARLEY_NOTIFICATION_TIMER_EVERY_SECONDS": "0.2",
        # processes start slowly on a loaded machine: reads wait longer for read models
        "PARLEY_CONSISTENCY_WAIT_SECONDS": "30"}
    if services is not None:
        env |= services | {"PARLEY_NAMESPACE": namespace}
    else:
        env |= {"PARLEY_DATABASE_URL": ""}
    try:
        with ParleyProcesses(env, directory).serving(profile) as running:
            yield Deployment(running, secret_key)
    finally:
        if services is not None:
            drop_indices(services, namespace)


def eventually(check: Callable[[], Any], what: str | None = None,
               timeout: float = WITHIN_SECONDS) -> Any:
    """`check()`'s first truthy answer, asked every 0.2 s (each may be a process or a request
    to one) until `timeout`."""
    return waiting.eventually(check, what, timeout, every=0.2)


def issue_key(env: dict[str, str], name: str = "inbox tests") -> str:
    """An API key with notifications:trigger, made as an operator makes one (`parley apikeys
    create`) against the processes' `env`."""
    made = subprocess.run(
        [sys.executable, "-m", "parley", "apikeys", "create", "--name", name,
         "--scope", "notifications:trigger"],
        env=env, capture_output=True, text=True, timeout=60, check=True)
    return made.stdout.strip().splitlines()[-1]


def parley_cli(processes: ParleyProcesses, *args: str,
                   columns: int = 300) -> subprocess.CompletedProcess[str]:
    """`parley ARGS` run as an operator runs it against `processes`' profile, `columns` wide."""
    return subprocess.run([sys.executable, "-m", "parley", *args],
                          env=processes.env | {"COLUMNS": str(columns)}, capture_output=True,
                          text=True, timeout=60)


def with_a_webhook(parley: ParleyClient, receiver: WebhookReceiver, url: str) -> Person:
    """Someone with a webhook endpoint at `url` + "/ok", added through the API, whose secret
    `receiver` holds."""
    owner = parley.register("Bot Owner")
    response = parley.http.post("/v1/users/me/contact-points/webhooks", headers=owner.auth,
                                json={"url": url + "/ok"})
    assert response.status_code == 201, response.text
    receiver.hold(response.json()["secret"])
    return owner


def trigger(parley: ParleyClient, key: str, recipient: Person, channels: list[str],
            category: str = "system", title: str = "Build", body: str = "Finished.") -> str:
    """A high-priority notification the service with `key` triggers for `recipient` through
    the processes' API: its id."""
    response = parley.http.post("/v1/notifications", headers={"Authorization": f"Bearer {key}"},
                                json={"recipients": [recipient.user_id], "category": category,
                                      "priority": "high", "plan": {"channels": channels},
                                      "content": {"title": title, "body": body}})
    assert response.status_code == 202, response.text
    return str(response.json()["notifications"][0]["notification_id"])
