"""An outage of a service a loop depends on, logged once: not a line per retry.

A loop that retries while PostgreSQL or Kafka is away logs one WARNING when the failures
start and one INFO when it works again (with how long it was down); the retries in between
log at DEBUG only.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable


class Outage:
    """Whether `what` is failing now, told to the log once per outage."""

    def __init__(self, logger: logging.Logger, what: str,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._log = logger
        self._what = what
        self._clock = clock
        self._since: float | None = None

    @property
    def ongoing(self) -> bool:
        return self._since is not None

    def failed(self, error: BaseException) -> None:
        if self._since is None:
            self._since = self._clock()
            self._log.warning("%s failed (%s); retrying until it works again", self._what,
                              type(error).__name__)
        else:
            self._log.debug("%s still failing (%s)", self._what, type(error).__name__)

    def recovered(self) -> None:
        if self._since is not None:
            self._log.info("%s works again, after %.1f s", self._what,
                           self._clock() - self._since)
            self._since = None
