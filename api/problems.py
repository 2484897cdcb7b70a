"""RFC 9457 problem details: every error Parley answers, mapped in one place."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from commands.writer import WriterStopped
from domain.errors import (
    AttachmentTooLarge,
    Conflict,
    DomainError,
    InvalidCommand,
    NotAllowed,
    NotFound,
    Unauthenticated,
    UnsupportedAttachmentType,
)

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """An error answer raised by the API layer itself."""

    def __init__(
        self, status: int, title: str, detail: str = "", headers: dict[str, str] | None = None,
        errors: list[dict[str, Any]] | None = None,
    ) -> None:
        super().__init__(detail or title)
        self.status, self.title, self.detail = status, title, detail
        self.headers = headers or {}
        self.errors = errors


def problem_response(
    status: int, title: str, detail: str = "", *, errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {"type": "about:blank", "title": title, "status": status}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
         "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(Problem)
    async def _problem(_: Request, error: Problem) -> JSONResponse:
        return problem_response(error.status, error.title, error.detail, errors=error.errors,
                                headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        errors = _field_errors(error)
        if any(e["type"] == "json_invalid" for e in errors):
            return problem_response(400, "Malformed JSON", "the body is not valid JSON")
        return problem_response(422, "Invalid request", "some fields are invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return problem_response(error.status_code, str(error.detail), headers=error.headers)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        if isinstance(error, Unauthenticated):
            return problem_response(401, "Unauthorized", str(error),
                                    headers={"WWW-Authenticate": "Bearer"})
        if isinstance(error, NotAllowed):
            return problem_response(403, "Forbidden", str(error))
        if isinstance(error, NotFound):
            return problem_response(404, "Not found", str(error))
        if isinstance(error, Conflict):
            return problem_response(409, "Conflict", str(error))
        if isinstance(error, AttachmentTooLarge):
            return problem_response(413, "Body too large", str(error))
        if isinstance(error, UnsupportedAttachmentType):
            return problem_response(415, "Unsupported media type", str(error))
        if isinstance(error, InvalidCommand):
            return problem_response(
                422, "Invalid request", str(error),
                errors=[{"field": error.field, "message": str(error), "type": "rule"}],
            )
        return problem_response(400, "Bad request", str(error))

    @app.exception_handler(WriterStopped)
    async def _stopping(_: Request, error: WriterStopped) -> JSONResponse:
        return problem_response(503, "Shutting down", "retry on another instance",
                                headers={"Retry-After": "1"})

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        if _is_unavailable(error):
            log.warning("dependency unavailable: %s", type(error).__name__)
            return problem_response(503, "Service unavailable",
                                    "a backing service is unreachable; retry shortly",
                                    headers={"Retry-After": "1"})
        log.error("unexpected error on %s %s: %s", request.method, request.url.path,
                  type(error).__name__, exc_info=error)
        return problem_response(500, "Internal error")


def _is_unavailable(error: Exception) -> bool:
    names = {cls.__name__ for cls in type(error).__mro__}
    return bool(names & {"OperationalError", "InterfaceError", "ConnectionError",
                         "ConnectionTimeout", "TransportError", "PoolTimeout",
                         "RedisConnectionError", "TimeoutError"})
