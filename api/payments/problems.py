"""The payments context's own answers to its errors (H5 fills this in)."""

from __future__ import annotations

from typing import Any

from api.http.problems import ProblemRefinement

PROBLEMS: tuple[ProblemRefinement[Any], ...] = ()
