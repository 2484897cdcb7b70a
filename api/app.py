"""The FastAPI application: routers, problem handlers and request limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from api.http.allowed_methods import MethodCheck
from api.http.docs_page import install_docs
from api.http.limits import RequestLimits
from api.http.openapi_rules import install_http_rules
from api.http.problems import install_problem_handlers
from api.http.request_ids import RequestIds
from api.http.security_headers import SecurityHeaders
from api.messaging import attachments
from api.notifications import callbacks, unsubscribe
from api.operations import health
from api.operations import maintenance as operations
from parley import contexts
from parley.bootstrap import Parley


def create_app(parley: Parley, *, manage_lifecycle: bool = True) -> FastAPI:
    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        if manage_lifecycle:
            parley.start()
        try:
            yield
        finally:
            if manage_lifecycle:
                parley.close()

    app = FastAPI(
        title="Parley",
        version="0.1.0",
        description="Event-sourced messaging backend: commands append events; "
        "queries read projections. Errors are application/problem+json.",
        lifespan=lifespan,
        docs_url=None,  # served by install_docs, from local files under a CSP
        redoc_url=None,
    )
    app.state.parley = parley
    install_problem_handlers(app, contexts.problems())
    app.include_router(health.router)
    for placed in contexts.routers():
        app.include_router(placed.router)
    app.include_router(operations.router)
    install_http_rules(app, parley.settings.max_body_bytes)
    install_docs(app)
    # the last added runs first: ids are chosen before anything answers, even a refusal
    app.add_middleware(RequestLimits, max_body_bytes=parley.settings.max_body_bytes,
                       uploads={attachments.UPLOAD_PATH: parley.upload_policy.max_bytes},
                       form_prefixes=(callbacks.CALLBACK_PREFIX, unsubscribe.FORM_PREFIX),
                       multipart_prefixes=(unsubscribe.FORM_PREFIX,))
    app.add_middleware(MethodCheck)
    app.add_middleware(RequestIds)
    app.add_middleware(SecurityHeaders)
    return app
