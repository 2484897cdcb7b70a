"""Messaging's own problem answers: what its attachment errors answer in place of their base's
422 (declared by its manifest, installed by create_app)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi.responses import JSONResponse

from api.http.problem_json import problem_response
from api.http.problems import ProblemRefinement
from domain.messaging.errors import (
    AttachmentTooLarge,
    UnsupportedAttachmentType,
    UploadQuotaExceeded,
)


def _too_large(error: AttachmentTooLarge) -> JSONResponse:
    return problem_response(413, "Body too large", str(error))


def _over_quota(error: UploadQuotaExceeded) -> JSONResponse:
    return problem_response(413, "Upload quota exceeded", str(error))


def _unsupported_type(error: UnsupportedAttachmentType) -> JSONResponse:
    return problem_response(415, "Unsupported media type", str(error))


def problems() -> Sequence[ProblemRefinement[Any]]:
    return (ProblemRefinement(AttachmentTooLarge, _too_large),
            ProblemRefinement(UploadQuotaExceeded, _over_quota),
            ProblemRefinement(UnsupportedAttachmentType, _unsupported_type))
