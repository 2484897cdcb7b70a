"""The Parley processes a benchmark measures, started for a profile and stopped by pid."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

from parley.launcher import ParleyProcesses
from parley.signing_keys import generate_key

# one account sends the whole load: the per-user send limit would measure itself
# (and registers every user from one address: the sign-in throttles would refuse them)
UNLIMITED = {"PARLEY_SEND_RATE_PER_SECOND": "1000000", "PARLEY_SEND_BURST": "1000000",
             "PARLEY_SIGNIN_ATTEMPTS_PER_MINUTE": "1000000",
             "PARLEY_SIGNIN_SOURCE_FREE_FAILURES": "1000000",
             "PARLEY_PASSWORD_HASH_QUEUE": "100000"}
SERVICE_VARIABLES = ("PARLEY_DATABASE_URL", "PARLEY_KAFKA_BOOTSTRAP",
                     "PARLEY_ELASTICSEARCH_URL", "PARLEY_REDIS_URL")


def require_services() -> None:
    missing = [v for v in SERVICE_VARIABLES if not os.environ.get(v)]
    if missing:
        raise SystemExit(f"bench: {', '.join(missing)} not set "
                         "(eval \"$(bash deploy/services.sh env)\")")


@contextlib.contextmanager
def running_parley(profile: str, scratch: Path) -> Iterator[ParleyProcesses]:
    """Real `parley` processes for `profile` in a fresh namespace or data directory."""
    env = dict(UNLIMITED) | {"PARLEY_LOG_LEVEL": "WARNING"}
    if profile == "production":
        require_services()
        env |= {"PARLEY_NAMESPACE": f"bench{uuid.uuid4().hex[:8]}",
                "PARLEY_SECRET_KEY": generate_key()}
    else:
        env |= {"PARLEY_DATA_DIR": str(scratch / "data"), "PARLEY_DATABASE_URL": ""}
    with ParleyProcesses(env, scratch).serving(profile) as processes:
        yield processes
