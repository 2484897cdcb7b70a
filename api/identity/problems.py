"""Identity's own problem answers: a weak password names the rule it broke (declared by its
manifest, installed by create_app)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from api.http.problem_json import problem_response
from api.http.problems import ProblemRefinement
from domain.identity.errors import WeakPassword


def _weak_password(error: WeakPassword) -> JSONResponse:
    return problem_response(
        422, "Weak password", str(error),
        errors=[{"field": error.field, "message": str(error), "type": error.rule}],
    )


def problems() -> Sequence[ProblemRefinement[Any]]:
    return (ProblemRefinement(WeakPassword, _weak_password),)
