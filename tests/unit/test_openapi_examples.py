"""The OpenAPI spec documents every route with a summary, examples and its error answers."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api.app import create_app
from api.http.problems import PROBLEM_JSON, ProblemDetails
from parley.bootstrap import Parley, build
from parley.settings import Settings

# Liveness and readiness answer their own bodies, never a problem: nothing to document.
ANSWER_NO_PROBLEMS = {("get", "/health"), ("get", "/ready")}
METHODS = ("get", "put", "post", "delete", "patch")
JSON, FORM = "application/json", "application/x-www-form-urlencoded"  # forms: providers' callbacks
# What `/openapi.json` answered before the bounded-contexts move (issue 10); a route changed on
# purpose regenerates it with PARLEY_UPDATE_OPENAPI_SNAPSHOT=1.
SNAPSHOT = Path(__file__).parents[1] / "snapshots" / "openapi.json"


class Undocumented(BaseModel):
    note: str


@pytest.fixture(scope="module")
def parley(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Parley]:
    data_dir: Path = tmp_path_factory.mktemp("openapi")
    built = build(Settings.model_validate({"data_dir": data_dir, "database_url": None}))
    built.start()
    try:
        yield built
    finally:
        built.close()


@pytest.fixture(scope="module")
def app(parley: Parley) -> FastAPI:
    return create_app(parley, manage_lifecycle=False)


@pytest.fixture(scope="module")
def spec(app: FastAPI) -> dict[str, Any]:
    return app.openapi()


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method in METHODS:
            if method in item:
                yield method, path, item[method]


def resolved(spec: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with its `$ref` followed; for an array, the schema of its items."""
    while "$ref" in schema:
        schema = spec["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    if schema.get("type") == "array" and "examples" not in schema:
        return resolved(spec, schema.get("items", {}))
    return schema


def api_routes(routes: Iterable[Any]) -> Iterator[APIRoute]:
    """Every API route, also inside included routers (which newer FastAPI keeps nested)."""
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif (router := getattr(route, "original_router", None)) is not None:
            yield from api_routes(router.routes)


def has_example(spec: dict[str, Any], media: dict[str, Any]) -> bool:
    if media.get("example") is not None or media.get("examples"):
        return True
    schema = resolved(spec, media.get("schema", {}))
    return bool(schema.get("examples") or schema.get("example") is not None)


def missing(found: list[str]) -> str:
    return "\n".join(found)


def test_every_operation_has_its_own_summary_and_a_description(app: FastAPI) -> None:
    routes = [route for route in api_routes(app.routes) if route.include_in_schema]
    assert len(routes) > 50, "the routes were not found: how FastAPI keeps them has changed"
    lacking = [f"{sorted(route.methods or ())} {route.path}" for route in routes
               if not (route.summary and route.description)]
    assert not lacking, "routes without summary= or a docstring:\n" + missing(lacking)


def test_every_json_request_body_has_an_example(spec: dict[str, Any]) -> None:
    bodies = [(m, p, o["requestBody"]) for m, p, o in operations(spec) if "requestBody" in o]
    assert bodies, "no operation takes a body: the spec is not what this test expects"
    lacking = []
    for method, path, body in bodies:
        for media_type, media in body["content"].items():
            if media_type in (JSON, FORM) and not has_example(spec, media):
                lacking.append(f"{method.upper()} {path}")
            elif media_type not in (JSON, FORM):  # else an upload: raw bytes
                assert media["schema"] == {"type": "string", "format": "binary"}, path
    assert not lacking, "request bodies without an example:\n" + missing(lacking)


def test_every_successful_json_answer_has_an_example(spec: dict[str, Any]) -> None:
    lacking = []
    for method, path, operation in operations(spec):
        for status, response in operation["responses"].items():
            media = response.get("content", {}).get("application/json")
            if status.startswith("2") and media is not None and not has_example(spec, media):
                lacking.append(f"{method.upper()} {path} {status}")
    assert not lacking, "successful answers without an example:\n" + missing(lacking)


def test_every_operation_documents_its_problems_with_examples(spec: dict[str, Any]) -> None:
    lacking = []
    for method, path, operation in operations(spec):
        problems = {status: response["content"][PROBLEM_JSON]
                    for status, response in operation["responses"].items()
                    if PROBLEM_JSON in response.get("content", {})}
        if not problems and (method, path) not in ANSWER_NO_PROBLEMS:
            lacking.append(f"{method.upper()} {path}: no problem+json answer")
        for status, media in problems.items():
            assert resolved(spec, media["schema"])["title"] == "ProblemDetails", path
            example = ProblemDetails.model_validate(media["example"])
            if example.status != int(status) or not status.startswith(("4", "5")):
                lacking.append(f"{method.upper()} {path}: {status} example is {example}")
    assert not lacking, missing(lacking)


def test_no_error_answer_is_documented_as_plain_json(spec: dict[str, Any]) -> None:
    """FastAPI's default 422 (application/json, HTTPValidationError) is not what Parley says."""
    plain = [f"{method.upper()} {path} {status}"
             for method, path, operation in operations(spec)
             for status, response in operation["responses"].items()
             if status.startswith("4") and "application/json" in response.get("content", {})]
    assert not plain, "errors documented as application/json:\n" + missing(plain)


def models_of(route: APIRoute) -> Iterator[type[BaseModel]]:
    if isinstance(route.response_model, type) and issubclass(route.response_model, BaseModel):
        yield route.response_model
    for response in route.responses.values():
        model = response.get("model")
        if isinstance(model, type) and issubclass(model, BaseModel):
            yield model
    if route.body_field is not None:
        annotation = route.body_field.field_info.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            yield annotation


def test_every_example_is_a_valid_instance_of_its_model(app: FastAPI) -> None:
    checked = 0
    for route in api_routes(app.routes):
        for model in models_of(route):
            for example in model.model_json_schema().get("examples", []):
                model.model_validate(example)
                checked += 1
    assert checked > 20, "hardly any model has examples"


def test_a_route_without_examples_is_caught(parley: Parley) -> None:
    """The checks above fail for a new route that documents nothing."""
    bare = create_app(parley, manage_lifecycle=False)

    @bare.post("/v1/undocumented")
    def undocumented(body: Undocumented) -> Undocumented:
        return body

    spec = bare.openapi()
    with pytest.raises(AssertionError, match="POST /v1/undocumented"):
        test_every_json_request_body_has_an_example(spec)
    with pytest.raises(AssertionError, match="POST /v1/undocumented"):
        test_every_successful_json_answer_has_an_example(spec)
    with pytest.raises(AssertionError, match="POST /v1/undocumented"):
        test_every_operation_documents_its_problems_with_examples(spec)
    with pytest.raises(AssertionError, match="/v1/undocumented"):
        test_every_operation_has_its_own_summary_and_a_description(bare)


def test_the_published_document_is_byte_identical_to_the_saved_one(app: FastAPI) -> None:
    served = TestClient(app).get("/openapi.json").content
    if os.environ.get("PARLEY_UPDATE_OPENAPI_SNAPSHOT") == "1":
        SNAPSHOT.write_bytes(served)
    assert served == SNAPSHOT.read_bytes()
