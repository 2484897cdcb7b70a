"""How Parley's processes log: JSON lines at PARLEY_LOG_LEVEL, libraries' noise kept down."""

from __future__ import annotations

import logging

from pythonjsonlogger.json import JsonFormatter

# kafka-python logs every failed (re)connect and request to an absent broker at ERROR, about
# thirty lines per outage; the relay and the projectors log one line of their own per outage
# (commands.processes.outages.Outage) and raise what they cannot handle, so only its CRITICAL
# remain.
# httpx logs each request's URL at INFO, and hpack each HTTP/2 header block at DEBUG: a Web Push
# endpoint or an APNs device token is in the URL, a bearer or VAPID JWT in the headers.
QUIETED_LOGGERS = {"kafka": logging.CRITICAL, "httpx": logging.WARNING, "hpack": logging.WARNING}


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    for name, quiet_level in QUIETED_LOGGERS.items():
        logging.getLogger(name).setLevel(quiet_level)
