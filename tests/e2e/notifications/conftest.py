"""The notification end-to-end package's shared stand-ins and its one Parley per profile as
real processes (tests/e2e/notifications/deployments.py), each started once for the package
and stopped when its last module is done."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.notifications.deployments import (
    ACCOUNT,
    RELAY_PASSWORD,
    RELAY_USER,
    Deployment,
    deployed,
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

