"""The bundled list of common and breached passwords (common_passwords.txt), for the policy."""

from __future__ import annotations

from functools import cache
from importlib.resources import files

LIST_FILE = "common_passwords.txt"
COMMENT = "# "


@cache
def common_passwords() -> frozenset[str]:
    """Every listed password, casefolded; read once per process (about 8,000 lines)."""
    text = files("adapters.identity").joinpath(LIST_FILE).read_text(encoding="utf-8")
    return frozenset(line.strip().casefold() for line in text.splitlines()
                     if line.strip() and not line.startswith(COMMENT))
