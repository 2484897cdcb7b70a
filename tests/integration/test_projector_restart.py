"""A projector killed and started again consumes from Kafka again within a second or two."""

from __future__ import annotations

import pytest

from bench.projector_restart import one_restart
from parley.production import projector_instance_id
from parley.settings import Settings

pytestmark = pytest.mark.services


def test_a_projector_restarted_after_sigkill_consumes_again_within_two_seconds(
    services: dict[str, str],
) -> None:
    instance = projector_instance_id(Settings(kafka_bootstrap=services["PARLEY_KAFKA_BOOTSTRAP"]))
    assert instance is not None, "projectors join as static members by default"
    waited = one_restart(services["PARLEY_KAFKA_BOOTSTRAP"], instance, limit=5.0)
    assert waited < 2.0


def test_an_empty_projector_instance_id_makes_a_dynamic_member() -> None:
    assert projector_instance_id(Settings(projector_instance_id="")) is None
    assert projector_instance_id(Settings(projector_instance_id="p-2")) == "p-2"
