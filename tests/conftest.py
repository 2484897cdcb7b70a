"""Shared fixtures: the real services' addresses, and a fresh namespace per test."""

from __future__ import annotations

import os
import uuid

import pytest
from hypothesis import settings

# No per-example deadline: the suite runs on a shared 2-core machine, where a first example
# that loads a library's data (phonenumbers' metadata) can take longer than hypothesis's 200 ms
# default; how fast things are is measured by bench/, never by a timed test.
settings.register_profile("parley", deadline=None)
settings.load_profile("parley")

SERVICE_VARIABLES = (
    "PARLEY_DATABASE_URL",
    "PARLEY_KAFKA_BOOTSTRAP",
    "PARLEY_ELASTICSEARCH_URL",
    "PARLEY_REDIS_URL",
)


@pytest.fixture(scope="session")
def services() -> dict[str, str]:
    """The running services; a test that needs them fails, never skips, without them."""
    missing = [v for v in SERVICE_VARIABLES if not os.environ.get(v)]
    if missing:
        pytest.fail(f"{', '.join(missing)} not set: run 'make test', or start the services "
                    "with 'bash deploy/services.sh up' and eval its 'env' output")
    return {v: os.environ[v] for v in SERVICE_VARIABLES}


@pytest.fixture
def namespace() -> str:
    """Kafka topics, Elasticsearch indices, PostgreSQL schema and cache keys of one test."""
    return f"t{uuid.uuid4().hex[:12]}"
