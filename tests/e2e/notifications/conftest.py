"""The notification end-to-end package's shared stand-ins and its one Parley per profile as
real processes (tests/e2e/notifications/deployments.py), each started once for the package
and stopped when its last module is done; and what a process module asks for (`processes`,
run on each profile, its public API `parley`, an operator-made `admin`). The in-process
modules start their own Parley through tests/e2e/notifications/in_process.py."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.notifications.deployments import (
    ACCOUNT,
    EACH_PROFILE,
    RELAY_PASSWORD,
    RELAY_USER,
    Deployment,
    deployed,
    parley_cli,
)
from tests.providers.fcm import FcmStandIn
from tests.providers.servers import LocalServer
from tests.providers.smtp import SmtpRelay
from tests.providers.webhook_receiver import WebhookReceiver


@pytest.fixture(scope="package")
def fcm() -> Iterator[FcmStandIn]:
    with FcmStandIn(ACCOUNT) as stand_in:
        yield stand_in


@pytest.fixture(scope="package")
def relay() -> Iterator[SmtpRelay]:
    with SmtpRelay(username=RELAY_USER, password=RELAY_PASSWORD, security="starttls") as server:
        yield server


@pytest.fixture(scope="package")
def plain_relay() -> Iterator[SmtpRelay]:
    """A relay without TLS or sign-in, for the in-process modules (`plain_smtp_provider`):
    each test reads the mailbox it made."""
    with SmtpRelay(security="none") as server:
        yield server


@pytest.fixture(scope="package")
def webhook_endpoint() -> Iterator[tuple[WebhookReceiver, str]]:
    """A business's webhook endpoint and its URL (each test `hold`s its endpoint's secret)."""
    receiving = WebhookReceiver("whsec_" + "A" * 32)
    with LocalServer(receiving) as server:
        yield receiving, server.url


@pytest.fixture(scope="package")
def embedded_deployment(tmp_path_factory: pytest.TempPathFactory, fcm: FcmStandIn,
                        relay: SmtpRelay) -> Iterator[Deployment]:
    with deployed("embedded", tmp_path_factory.mktemp("notifications-embedded"), fcm,
                  relay) as deployment:
        yield deployment


@pytest.fixture(scope="package")
def production_deployment(tmp_path_factory: pytest.TempPathFactory, services: dict[str, str],
                          fcm: FcmStandIn, relay: SmtpRelay) -> Iterator[Deployment]:
    with deployed("production", tmp_path_factory.mktemp("notifications-production"), fcm,
                  relay, services) as deployment:
        yield deployment



@pytest.fixture(scope="module", params=EACH_PROFILE)
def processes(request: pytest.FixtureRequest) -> ParleyProcesses:
    """A process module's Parley: the package's one of each profile, the module run on both."""
    deployment: Deployment = request.getfixturevalue(f"{request.param}_deployment")
    return deployment.processes


@pytest.fixture(scope="module")
def parley(processes: ParleyProcesses) -> Iterator[ParleyClient]:
    """The public API of the module's `processes`."""
    with httpx.Client(base_url=processes.base_url, timeout=60) as http:
        yield ParleyClient(http)


@pytest.fixture(scope="module")
def admin(parley: ParleyClient, processes: ParleyProcesses) -> Person:
    """Someone the operator made an admin with `parley roles grant`."""
    person = parley.register("Grace Operator")
    granted = parley_cli(processes, "roles", "grant", person.handle, "admin")
    assert granted.returncode == 0, granted.stderr
    return person
