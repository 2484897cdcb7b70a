"""Notification templates (admins only): create, update (each a new version), list, show,
list versions, and preview a version with sample data. Saving checks the template
(domain/notifications/templates.py); a refusal is a 422 naming the problem, nothing saved."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, JsonValue

from api.http.dependencies import (
    CommandContext,
    ConsistencyPosition,
    CorrelationId,
    CurrentSession,
    Gate,
    ParleyDep,
    Writer,
    wait_for,
)
from api.http.problems import Problem, problem_responses
from api.operations.maintenance import admin
from commands.notifications.templates import (
    CreateTemplate,
    TemplateSaved,
    UpdateTemplate,
    declared_variables,
)
from domain.notifications.rendering import TemplateParts, render
from domain.notifications.templates import (
    MAX_BODY_SOURCE,
    MAX_HTML_SOURCE,
    MAX_TITLE_SOURCE,
    TemplateRules,
    rendered_content,
)
from projections.notifications.templates import TemplateQueries, TemplatesProjector

router = APIRouter(prefix="/v1/admin/notification-templates", tags=["notifications"],
                   dependencies=[Depends(admin)])
TEMPLATES = [TemplatesProjector.name]
Channel = Literal["push", "email", "sms", "webhook", "in_app"]
LOCALE = r"^(default|[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8}){0,3})$"
Variables = Annotated[dict[str, JsonValue], Field(max_length=50)]


async def get_template_queries(parley: ParleyDep) -> TemplateQueries:
    return parley.notification_templates


Templates = Annotated[TemplateQueries, Depends(get_template_queries)]


async def template_commands(request: Request, response: Response, writer: Writer,
                            session: CurrentSession, correlation: CorrelationId
                            ) -> CommandContext:
    return CommandContext(writer, request, response, session.user_id, correlation, None)


AdminCommands = Annotated[CommandContext, Depends(template_commands)]


def declared(parley: Any) -> dict[str, frozenset[str]]:
    """The categories the deployment defines, each with the variables it declares."""
    return declared_variables(parley.settings.notification_categories,
                              parley.settings.notification_template_variables)


class TemplateSources(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "title": "Payment of {{ amount }} {{ currency }}",
        "body": "We received {{ amount }} {{ currency }}: {{ description }}.",
        "html": "<p>We received <b>{{ amount }} {{ currency }}</b>.</p>",
        "sample_variables": {"amount": "10.00", "currency": "EUR", "description": "Plan"}}]})

    title: str = Field("", max_length=MAX_TITLE_SOURCE,
                       description="Jinja2 (sandboxed): the title; an email's subject")
    body: str = Field(..., min_length=1, max_length=MAX_BODY_SOURCE,
                      description="Jinja2: the text; an email's text/plain part")
    html: str | None = Field(None, max_length=MAX_HTML_SOURCE,
                             description="Email only: the text/html part (autoescaped)")
    sample_variables: Variables = Field(
        default_factory=dict, description="Values it is checked (and previewed) with; a "
                                          "declared variable not given here is '<name>'")


class NewTemplate(TemplateSources):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "category": "payment", "channel": "email", "locale": "pt-BR",
        "title": "Pagamento de {{ amount }} {{ currency }}",
        "body": "Recebemos {{ amount }} {{ currency }}: {{ description }}.",
        "html": "<p>Recebemos <b>{{ amount }} {{ currency }}</b>: {{ description }}.</p>",
        "sample_variables": {"amount": "10.00", "currency": "EUR", "description": "Plano"}}]})

    category: str = Field(..., min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.-]*$")
    channel: Channel
    locale: str = Field("default", max_length=35, pattern=LOCALE)


class TemplateOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "template_id": "7b1c2d3e-4f50-5a6b-8c7d-9e0f1a2b3c4d", "category": "payment",
        "channel": "email",
        "locale": "pt-BR", "version": 2, "created_at": "2026-12-02T08:00:00Z",
        "updated_at": "2026-12-02T09:00:00Z"}]})

    template_id: uuid.UUID
    category: str
    channel: str
    locale: str
    version: int
    created_at: datetime | None = None
    updated_at: datetime | None = None


class SavedOut(TemplateOut):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "template_id": "7b1c2d3e-4f50-5a6b-8c7d-9e0f1a2b3c4d", "category": "payment",
        "channel": "email",
        "locale": "pt-BR", "version": 2, "created_at": "2026-12-02T08:00:00Z",
        "updated_at": "2026-12-02T09:00:00Z", "changed": True, "position": 1207}]})

    changed: bool = Field(description="False: the same as the latest version (none added)")
    position: int


class VersionOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "version": 1, "title": "Payment of {{ amount }}", "body": "We received {{ amount }}.",
        "html": None, "sample_variables": {"amount": "10.00"},
        "saved_at": "2026-12-02T08:00:00Z",
        "saved_by": "a43240e6-dc52-5a92-a031-6851e4c908ef"}]})

    version: int
    title: str
    body: str
    html: str | None
    sample_variables: dict[str, Any]
    saved_at: datetime
    saved_by: uuid.UUID


class PreviewRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{
        "version": 1, "variables": {"amount": "12.50", "currency": "BRL",
                                    "description": "Plano anual"}}]})

    version: int | None = Field(None, ge=1, le=10**6, description="Default: the latest")
    variables: Variables | None = Field(
        None, description="Default: the version's sample variables")


class PreviewOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "version": 1, "title": "Pagamento de 12.50 BRL", "body": "Recebemos 12.50 BRL.",
        "html": "<p>Recebemos <b>12.50 BRL</b>.</p>"}]})

    version: int
    title: str
    body: str
    html: str | None


def saved_out(saved: TemplateSaved, position: int) -> SavedOut:
    return SavedOut(template_id=saved.template_id, category=saved.category,
                    channel=saved.channel, locale=saved.locale, version=saved.version,
                    created_at=saved.created_at, updated_at=saved.updated_at,
                    changed=saved.changed, position=position)


def template_out(document: dict[str, Any]) -> TemplateOut:
    return TemplateOut.model_validate({k: document.get(k) for k in TemplateOut.model_fields})


def _found(queries: TemplateQueries, template_id: uuid.UUID) -> dict[str, Any]:
    document = queries.template(str(template_id))
    if document is None:
        raise Problem(404, "Not found", "no such template")
    return document


@router.post("", status_code=201, response_model=SavedOut,
             summary="Create a notification template (its version 1)",
             responses=problem_responses(401, 403, 409, 422, 503, described={
                 409: "a template for this category, channel and locale exists",
                 422: "it does not compile, reads an undeclared variable, or renders with "
                      "its sample data beyond what its channel carries"}))
async def create(body: NewTemplate, commands: AdminCommands, parley: ParleyDep) -> SavedOut:
    """Version 1 of the template for this category, channel and locale (`default`: the one
    used when no locale of the recipient's has one)."""
    outcome = await commands.run(CreateTemplate(
        body.category, body.channel, body.locale, TemplateParts(body.title, body.body,
                                                                body.html),
        dict(body.sample_variables), declared(parley), datetime.now(UTC)))
    return saved_out(outcome.result, outcome.position)


@router.put("/{template_id}", response_model=SavedOut,
            summary="Save a new version of a notification template",
            responses=problem_responses(401, 403, 404, 422, 503))
async def update(template_id: uuid.UUID, body: TemplateSources, commands: AdminCommands,
                 parley: ParleyDep) -> SavedOut:
    """A new version (the same sources and sample as the latest add none)."""
    outcome = await commands.run(UpdateTemplate(
        template_id, TemplateParts(body.title, body.body, body.html),
        dict(body.sample_variables), declared(parley), datetime.now(UTC)))
    return saved_out(outcome.result, outcome.position)


@router.get("", response_model=list[TemplateOut], summary="Notification templates",
            responses=problem_responses(401, 403, 422, 503))
def list_templates(queries: Templates, gate: Gate, position: ConsistencyPosition = None,
                   category: Annotated[str | None, Query(max_length=64)] = None,
                   channel: Channel | None = None) -> list[TemplateOut]:
    """Every template (of a category, on a channel), with its latest version, newest first."""
    wait_for(gate, position, TEMPLATES)
    return [template_out(d) for d in queries.templates(category, channel)
            if d.get("version")]


@router.get("/{template_id}", response_model=TemplateOut, summary="One notification template",
            responses=problem_responses(401, 403, 404, 422, 503))
def show(template_id: uuid.UUID, queries: Templates, gate: Gate,
         position: ConsistencyPosition = None) -> TemplateOut:
    """Its category, channel, locale and latest version."""
    wait_for(gate, position, TEMPLATES)
    return template_out(_found(queries, template_id))


@router.get("/{template_id}/versions", response_model=list[VersionOut],
            summary="Every version of a notification template, oldest first",
            responses=problem_responses(401, 403, 404, 422, 503))
def versions(template_id: uuid.UUID, queries: Templates, gate: Gate,
             position: ConsistencyPosition = None) -> list[VersionOut]:
    """Each version's sources, sample data, when and by whom it was saved."""
    wait_for(gate, position, TEMPLATES)
    _found(queries, template_id)
    return [VersionOut.model_validate({k: d.get(k) for k in VersionOut.model_fields})
            for d in queries.versions(str(template_id))]


@router.post("/{template_id}/preview", response_model=PreviewOut,
             summary="Render a version of a notification template with sample data",
             responses=problem_responses(401, 403, 404, 422, 503, described={
                 422: "it does not render with these variables, or not within its channel"}))
def preview(template_id: uuid.UUID, body: PreviewRequest, queries: Templates, gate: Gate,
            parley: ParleyDep, position: ConsistencyPosition = None) -> PreviewOut:
    """Renders exactly as a triggered notification would be (nothing is sent or saved)."""
    wait_for(gate, position, TEMPLATES)
    template = _found(queries, template_id)
    number = body.version or int(template["version"])
    version = queries.version(str(template_id), number)
    if version is None:
        raise Problem(404, "Not found", "no such version of this template")
    variables = body.variables if body.variables is not None else TemplateRules(
        declared(parley).get(template["category"], frozenset()),
        version.get("sample_variables") or {}).sample_data()
    parts = render(TemplateParts(version["title"], version["body"], version.get("html")),
                   variables)
    content = rendered_content(parts, template["channel"], {}, None)
    return PreviewOut(version=number, title=content.title, body=content.body,
                      html=content.html)

