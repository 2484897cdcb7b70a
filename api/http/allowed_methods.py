"""Which methods a path allows, across every operation documented for it.

FastAPI declares one route per method, and Starlette's 405 names only the first matching
route's methods; a literal path (`/v1/conversations/direct`) also shadows a templated one
(`/v1/conversations/{conversation_id}`) whose parameter it cannot fill. The resource a path
names is the most literal path template of the OpenAPI document that matches it, and its
operations are the `Allow` list.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.responses import JSONResponse
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

from api.http.problem_json import problem_response

HTTP_METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}
Templates = list[tuple[re.Pattern[str], int, frozenset[str]]]


def _templates(spec: dict[str, Any]) -> Templates:
    compiled: Templates = []
    for template, operations in spec.get("paths", {}).items():
        pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
        methods = {m.upper() for m in operations if m in HTTP_METHODS}
        if "GET" in methods:
            methods.add("HEAD")  # Starlette answers HEAD wherever it answers GET
        compiled.append((re.compile(pattern + "$"), template.count("{"), frozenset(methods)))
    return compiled


def allowed_methods(request: HTTPConnection) -> set[str]:
    """The methods of the most literal documented path templates matching the request's
    path; empty for a path the document does not describe."""
    app = request.app
    templates: Templates | None = getattr(app.state, "path_templates", None)
    if templates is None:
        templates = app.state.path_templates = _templates(app.openapi())
    path = request.scope.get("path", "")
    matching = [(params, methods) for pattern, params, methods in templates
                if pattern.match(path)]
    if not matching:
        return set()
    fewest = min(params for params, _ in matching)
    return {m for params, methods in matching if params == fewest for m in methods}


def allow_header(methods: set[str]) -> str:
    return ", ".join(sorted(methods))


def method_not_allowed(allowed: set[str]) -> JSONResponse:
    return problem_response(405, "Method Not Allowed",
                            f"this path allows {allow_header(allowed)}",
                            headers={"Allow": allow_header(allowed)})


class MethodCheck:
    """ASGI middleware: a method the path does not allow answers 405 with the full `Allow`
    list before routing, so that no templated route that happens to match (and then
    authenticates, or validates its parameter) answers 401 or 422 instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            allowed = allowed_methods(HTTPConnection(scope))
            if allowed and scope["method"] not in allowed:
                await method_not_allowed(allowed)(scope, receive, send)
                return
        await self.app(scope, receive, send)
