"""Parley running for real, in each profile, reached over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from elasticsearch import Elasticsearch

from parley.launcher import ParleyProcesses
from parley.signing_keys import generate_key
from tests.builders import ParleyClient

GENEROUS_SIGN_IN_LIMITS = {"PARLEY_SIGNIN_ATTEMPTS_PER_MINUTE": "1000000",
                           "PARLEY_SIGNIN_SOURCE_FREE_FAILURES": "1000000",
                           "PARLEY_PASSWORD_HASH_QUEUE": "1000"}


def production_env(services: dict[str, str], namespace: str) -> dict[str, str]:
    return services | {"PARLEY_NAMESPACE": namespace, "PARLEY_SECRET_KEY": generate_key()}


@pytest.fixture
def processes(request: pytest.FixtureRequest, tmp_path: Path,
              namespace: str) -> Iterator[ParleyProcesses]:
    profile = getattr(request, "param", "embedded")
    if profile == "production":
        env = production_env(request.getfixturevalue("services"), namespace)
        env |= {"PARLEY_DATA_DIR": str(tmp_path / "data")}  # attachment bytes, per test
    else:
        env = {"PARLEY_DATA_DIR": str(tmp_path / "data"), "PARLEY_DATABASE_URL": ""}
    # tests send fast from one account; a test about limits sets its own with `parley_env`
    env |= {"PARLEY_SEND_RATE_PER_SECOND": "100000", "PARLEY_SEND_BURST": "100000"}
    # ... and sign in and register many times from one address (test_sign_in_throttles.py
    # keeps the real defaults)
    env |= GENEROUS_SIGN_IN_LIMITS
    # processes start slowly on a loaded machine: reads wait longer for read models to catch up
    env |= {"PARLEY_CONSISTENCY_WAIT_SECONDS": "15"}
    marker = request.node.get_closest_marker("parley_env")
    env |= marker.kwargs if marker else {}
    try:
        with ParleyProcesses(env, tmp_path).serving(profile) as running:
            yield running
    finally:
        if profile == "production":
            drop_indices(request.getfixturevalue("services"), namespace)


def drop_indices(services: dict[str, str], namespace: str) -> None:
    """Each test's indices go with it, so a whole run stays far below the shard limit."""
    with Elasticsearch(services["PARLEY_ELASTICSEARCH_URL"]) as client:
        client.indices.delete(index=f"{namespace}-*", ignore_unavailable=True)


@pytest.fixture
def parley(processes: ParleyProcesses) -> Iterator[ParleyClient]:
    with httpx.Client(base_url=processes.base_url, timeout=30) as http:
        yield ParleyClient(http)


PROFILES = pytest.mark.parametrize(
    "processes", ["embedded", pytest.param("production", marks=pytest.mark.services)],
    indirect=True,
)
