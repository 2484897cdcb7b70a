"""Faults are logged once per outage, and kafka-python's reconnect errors not at all."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from types import SimpleNamespace

import pytest

from adapters.read_model.kafka_projection import coordinator_known
from commands.processes.outages import Outage
from parley.logs import configure_logging


@pytest.fixture
def restored_logging() -> Iterator[None]:
    root, kafka = logging.getLogger(), logging.getLogger("kafka")
    handlers, level, kafka_level = root.handlers[:], root.level, kafka.level
    yield
    root.handlers[:], root.level = handlers, level
    kafka.setLevel(kafka_level)


def test_kafka_python_reconnect_errors_are_not_logged_but_ours_are(
    restored_logging: None,
) -> None:
    configure_logging("INFO")
    assert not logging.getLogger("kafka.conn").isEnabledFor(logging.ERROR)
    assert not logging.getLogger("kafka.coordinator").isEnabledFor(logging.ERROR)
    assert logging.getLogger("adapters.event_log.kafka_relay").isEnabledFor(logging.INFO)


def test_an_outage_is_one_warning_when_it_starts_and_one_info_when_it_ends(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [100.0]
    outage = Outage(logging.getLogger("tests.outage"), "relaying the log", lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="tests.outage")
    for _ in range(30):
        outage.failed(ConnectionError("refused"))
    now[0] = 112.5
    outage.recovered()
    outage.recovered()
    shown = [(r.levelname, r.getMessage()) for r in caplog.records if r.levelno >= logging.INFO]
    assert shown == [
        ("WARNING", "relaying the log failed (ConnectionError); retrying until it works again"),
        ("INFO", "relaying the log works again, after 12.5 s"),
    ]
    assert not outage.ongoing


def test_a_consumer_that_lost_its_group_coordinator_is_told_from_one_that_has_it() -> None:
    def consumer(unknown: bool) -> object:
        return SimpleNamespace(_coordinator=SimpleNamespace(coordinator_unknown=lambda: unknown))

    assert coordinator_known(consumer(False))  # type: ignore[arg-type]
    assert not coordinator_known(consumer(True))  # type: ignore[arg-type]
    assert coordinator_known(object())  # type: ignore[arg-type]  # another version: assume so
