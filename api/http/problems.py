"""RFC 9457 problem details: every error Parley answers, mapped in one place.

The shared error bases (domain/errors.py) are answered here; a context refines the answers to
its own errors (api/<context>/problems.py, declared by its manifest's `problems`), which
create_app passes to install_problem_handlers."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.allowed_methods import allowed_methods, method_not_allowed
from api.http.problem_json import PROBLEM_JSON, problem_response
from api.http.saturation import Saturated
from api.http.unavailability import install_unavailability_handlers
from domain.errors import (
    Conflict,
    DomainError,
    InvalidCommand,
    NotAllowed,
    NotFound,
    Unauthenticated,
)
from event_log.faults import CommandNotStored, CommandOutcomeUnknown
from event_log.writer import WriterStopped

log = logging.getLogger(__name__)

# A command answered 503 was not stored; one answered OUTCOME_UNKNOWN may have been.
NOT_STORED = "urn:parley:problem:not-stored"
OUTCOME_UNKNOWN = "urn:parley:problem:outcome-unknown"
Responses = dict[int | str, dict[str, Any]]
E = TypeVar("E", bound=DomainError)


@dataclass(frozen=True)
class ProblemRefinement(Generic[E]):
    """A context's own answer to one of its errors, in place of its base's (a 413 for an
    upload over the limit rather than the 422 of InvalidCommand). Refinements are tried in
    order, before the bases; the first whose `error` the raised error is an instance of
    answers."""

    error: type[E]
    answer: Callable[[E], JSONResponse]


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details: the body of every error answer."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "type": "about:blank", "title": "Not found", "status": 404,
        "detail": "no such conversation",
        "request_id": "0b8e9c4e-3f1d-4f5e-9a51-7f4a2d6c8e10"}]})

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None
    errors: list[FieldError] | None = None
    request_id: str | None = Field(None, description="The request's `X-Request-Id`")


def problem_schemas() -> dict[str, Any]:
    """The OpenAPI components of ProblemDetails (and FieldError), which routes refer to."""
    schema = ProblemDetails.model_json_schema(ref_template="#/components/schemas/{model}")
    components: dict[str, Any] = schema.pop("$defs", {})
    schema.pop("examples", None)
    return components | {"ProblemDetails": schema}


PROBLEM_SCHEMA = {"$ref": "#/components/schemas/ProblemDetails"}


# What each status means wherever it is answered, and a realistic answer: (description, body).
STANDARD_PROBLEMS: dict[int, tuple[str, dict[str, Any]]] = {
    400: ("the body is not valid JSON, or a cursor is not one this API issued",
          {"title": "Malformed JSON", "detail": "the body is not valid JSON"}),
    401: ("no bearer token, or one that is invalid, expired or of a signed-out device",
          {"title": "Unauthorized", "detail": "the token is invalid or expired"}),
    403: ("not allowed", {"title": "Forbidden", "detail": "not allowed"}),
    404: ("not found", {"title": "Not found", "detail": "not found"}),
    409: ("the Idempotency-Key was used for a different request",
          {"title": "Conflict",
           "detail": "this Idempotency-Key was used for a different request"}),
    413: ("the request body is over the size limit",
          {"title": "Body too large", "detail": "request bodies are limited to 65536 bytes"}),
    415: ("the body is not application/json",
          {"title": "Unsupported media type", "detail": "send the body as application/json"}),
    422: ("a field is missing or invalid",
          {"title": "Invalid request", "detail": "some fields are invalid",
           "errors": [{"field": "text", "message": "String should have at most 4096 characters",
                       "type": "string_too_long"}]}),
    429: ("sending too fast; retry after the seconds in Retry-After",
          {"title": "Too many requests", "detail": "slow down; retry after the given seconds"}),
    503: ("read models have not reached `position` within the wait, or a backing service is "
          "unreachable; retry after the seconds in Retry-After. A command answered 503 of type "
          f"`{NOT_STORED}` was not stored; of type `{OUTCOME_UNKNOWN}` it may have been: "
          "retry it with the same Idempotency-Key",
          {"title": "Service unavailable",
           "detail": "a backing service is unreachable; retry shortly"}),
}
# The errors every authenticated query / command can answer.
QUERY_PROBLEMS = (401, 422, 503)
COMMAND_PROBLEMS = (400, 401, 409, 422, 503)


def problem_responses(*statuses: int, described: Mapping[int, str] | None = None) -> Responses:
    """The `responses=` of a route: each error status as problem+json, with an example.

    `described` words a status for this route (its description is also the example's detail);
    a status given only there is documented too.
    """
    own = dict(described or {})
    documented: Responses = {}
    for status in sorted({*statuses, *own}):
        description, standard = STANDARD_PROBLEMS[status]
        example = {"type": "about:blank", "title": standard["title"], "status": status,
                   **standard}
        if status in own:
            description = own[status]
            example = {k: v for k, v in example.items() if k != "errors"} | {"detail": description}
        documented[status] = {"description": description, "content": {PROBLEM_JSON: {
            "schema": PROBLEM_SCHEMA, "example": example}}}
    return documented


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


def _field_errors(error: RequestValidationError) -> list[dict[str, Any]]:
    return [
        {"field": ".".join(str(p) for p in e.get("loc", ()) if p != "body"),
         "message": e.get("msg", ""), "type": e.get("type", "")}
        for e in error.errors()
    ]


def document_problems(app: FastAPI) -> None:
    """Add the problem schemas to the app's OpenAPI components (FastAPI only collects the
    models routes return, and error answers are problem+json, not a route's response model)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            spec = generate()
            spec.setdefault("components", {}).setdefault("schemas", {}).update(problem_schemas())
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def install_problem_handlers(
    app: FastAPI, refinements: Sequence[ProblemRefinement[Any]] = (),
) -> None:
    """Every error answers application/problem+json, and the OpenAPI spec says so.
    `refinements` are the contexts' own answers to their errors."""
    document_problems(app)
    refined = tuple(refinements)

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
    async def _http(request: Request, error: StarletteHTTPException) -> JSONResponse:
        if error.status_code == 405:
            allowed = allowed_methods(request) or {
                m.strip() for m in (error.headers or {}).get("Allow", "").split(",")}
            return method_not_allowed(allowed)
        return problem_response(error.status_code, str(error.detail),
                                headers=dict(error.headers) if error.headers else None)

    @app.exception_handler(DomainError)
    async def _domain(_: Request, error: DomainError) -> JSONResponse:
        for refinement in refined:
            if isinstance(error, refinement.error):
                return refinement.answer(error)
        if isinstance(error, Unauthenticated):
            return problem_response(401, "Unauthorized", str(error),
                                    headers={"WWW-Authenticate": "Bearer"})
        if isinstance(error, NotAllowed):
            return problem_response(403, "Forbidden", str(error))
        if isinstance(error, NotFound):
            return problem_response(404, "Not found", str(error))
        if isinstance(error, Conflict):
            return problem_response(409, "Conflict", str(error))
        if isinstance(error, InvalidCommand):
            return problem_response(
                422, "Invalid request", str(error),
                errors=[{"field": error.field, "message": str(error), "type": "rule"}],
            )
        return problem_response(400, "Bad request", str(error))

    @app.exception_handler(Saturated)
    async def _saturated(_: Request, error: Saturated) -> JSONResponse:
        return problem_response(503, "Service unavailable", error.detail,
                                headers={"Retry-After": str(error.retry_after_seconds)})

    @app.exception_handler(WriterStopped)
    async def _stopping(_: Request, error: WriterStopped) -> JSONResponse:
        return problem_response(503, "Shutting down", "retry on another instance",
                                headers={"Retry-After": "1"})

    @app.exception_handler(CommandNotStored)
    async def _not_stored(_: Request, error: CommandNotStored) -> JSONResponse:
        return problem_response(503, "Service unavailable", str(error),
                                headers={"Retry-After": "1"}, problem_type=NOT_STORED)

    @app.exception_handler(CommandOutcomeUnknown)
    async def _outcome_unknown(_: Request, error: CommandOutcomeUnknown) -> JSONResponse:
        log.warning("answered a command whose outcome is unknown")
        return problem_response(503, "Outcome unknown", str(error),
                                headers={"Retry-After": "1"}, problem_type=OUTCOME_UNKNOWN)

    install_unavailability_handlers(app)

    # Only a bug reaches this: Starlette answers it from its outermost layer, then re-raises
    # so that the server logs the traceback (and closes the connection).
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, error: Exception) -> JSONResponse:
        log.error("unexpected error on %s %s: %s", request.method, request.url.path,
                  type(error).__name__)
        return problem_response(500, "Internal error")
