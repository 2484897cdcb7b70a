"""What the HTTP layer enforces on every route, stated in the OpenAPI document.

The middlewares (`api.http.limits`, `api.http.request_ids`) answer before any route runs, so no
route declares their answers itself: the request-id header and its echo on every operation, and on
every operation that documents its problems, the 400 / 413 / 415 those middlewares can answer.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from api.http.request_ids import REQUEST_ID_DESCRIPTION, REQUEST_ID_HEADER

BODY_METHODS = ("post", "put", "patch")
PROBLEM_JSON = "application/problem+json"
REQUEST_ID_SCHEMA = {"type": "string", "format": "uuid"}


def _problem(status: int, title: str, detail: str) -> dict[str, Any]:
    return {"description": detail, "content": {PROBLEM_JSON: {
        "schema": {"$ref": "#/components/schemas/ProblemDetails"},
        "example": {"type": "about:blank", "title": title, "status": status,
                    "detail": detail}}}}


def document_http_rules(spec: dict[str, Any], max_body_bytes: int) -> None:
    """Add the request-id header and the middlewares' answers to each operation of `spec`."""
    components = spec.setdefault("components", {})
    components.setdefault("headers", {})[REQUEST_ID_HEADER] = {
        "description": REQUEST_ID_DESCRIPTION, "schema": REQUEST_ID_SCHEMA}
    echoed = {"$ref": f"#/components/headers/{REQUEST_ID_HEADER}"}
    for item in spec.get("paths", {}).values():
        for method, operation in item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            parameters = operation.setdefault("parameters", [])
            if not any(p.get("name", "").lower() == "x-request-id" for p in parameters):
                parameters.append({"name": REQUEST_ID_HEADER, "in": "header", "required": False,
                                   "description": REQUEST_ID_DESCRIPTION,
                                   "schema": REQUEST_ID_SCHEMA})
            responses = operation["responses"]
            for response in responses.values():
                response.setdefault("headers", {})[REQUEST_ID_HEADER] = echoed
            if not any(PROBLEM_JSON in r.get("content", {}) for r in responses.values()):
                continue  # a route that documents no problem at all is left for tests to catch
            added = {400: _problem(400, "Bad request",
                                   "X-Request-Id is not a UUID, or the body is not valid JSON")}
            if method in BODY_METHODS:
                added[413] = _problem(413, "Body too large",
                                      f"request bodies are limited to {max_body_bytes} bytes "
                                      "(uploads: their own limit), declared or chunked")
                if "application/json" in operation.get("requestBody", {}).get("content", {}):
                    added[415] = _problem(415, "Unsupported media type",
                                          "send the body as application/json")
            for status, response in added.items():
                if str(status) not in responses:
                    response["headers"] = {REQUEST_ID_HEADER: echoed}
                    responses[str(status)] = response


def install_http_rules(app: FastAPI, max_body_bytes: int) -> None:
    """Have `app.openapi()` include `document_http_rules` (generated once, then kept)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document_http_rules(generate(), max_body_bytes)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
