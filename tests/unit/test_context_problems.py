"""Each context answers its own errors: the shared problem handlers know only the shared
bases, and a context's manifest contributes the refinements for its errors."""

from __future__ import annotations

import inspect
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

import domain.errors
from api.http.problems import ProblemRefinement, install_problem_handlers
from domain.errors import DomainError
from domain.identity.errors import CommonPassword
from domain.messaging.errors import (
    AttachmentTooLarge,
    UnsupportedAttachmentType,
    UploadQuotaExceeded,
)
from parley import contexts
from parley.contexts import CONTEXTS
from parley.contexts.manifest import BoundedContext


def answer_to(error: DomainError, refinements: list[ProblemRefinement[Any]]) -> Any:
    app = FastAPI()
    install_problem_handlers(app, refinements)

    @app.post("/command")
    async def command() -> None:
        raise error

    with TestClient(app) as client:
        return client.post("/command")


def test_the_shared_handlers_answer_a_context_error_by_its_base_alone() -> None:
    answer = answer_to(AttachmentTooLarge("file", "attachments are limited to 10 bytes"), [])
    assert answer.status_code == 422
    assert answer.json()["title"] == "Invalid request"


def test_the_contexts_refinements_answer_their_errors_as_before_the_split() -> None:
    refined = contexts.problems()
    cases = [
        (AttachmentTooLarge("file", "too big"), 413,
         {"type": "about:blank", "title": "Body too large", "status": 413, "detail": "too big"}),
        (UploadQuotaExceeded("file", "too many"), 413,
         {"type": "about:blank", "title": "Upload quota exceeded", "status": 413,
          "detail": "too many"}),
        (UnsupportedAttachmentType("content_type", "no exe"), 415,
         {"type": "about:blank", "title": "Unsupported media type", "status": 415,
          "detail": "no exe"}),
        (CommonPassword("password", "too common"), 422,
         {"type": "about:blank", "title": "Weak password", "status": 422,
          "detail": "too common",
          "errors": [{"field": "password", "message": "too common",
                      "type": "common_password"}]}),
    ]
    for error, status, body in cases:
        answer = answer_to(error, refined)
        assert answer.status_code == status, error
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json() == body


def test_every_refined_error_is_one_of_its_own_contexts_errors() -> None:
    for context in CONTEXTS:
        for refinement in context.problems():
            assert refinement.error.__module__ == f"domain.{context.name}.errors", (
                context.name, refinement.error)


def test_contexts_refuse_an_error_refined_twice() -> None:
    messaging = next(c for c in CONTEXTS if c.name == "messaging")
    twice = BoundedContext("again", problems=messaging.problems)
    try:
        contexts.problems((messaging, twice))
    except ValueError as error:
        assert "refined twice" in str(error)
    else:
        raise AssertionError("an error refined by two contexts was accepted")


def test_the_shared_error_vocabulary_holds_no_context_error() -> None:
    shared = {name for name, kind in vars(domain.errors).items()
              if inspect.isclass(kind) and issubclass(kind, DomainError)}
    assert shared == {"DomainError", "NotFound", "Conflict", "InvalidCommand", "NotAllowed",
                      "Unauthenticated", "DisallowedText", "UnsafeReference"}
