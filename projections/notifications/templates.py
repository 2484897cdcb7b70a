"""The notification templates read model, for operators: one `notification_templates` document
per template (its category, channel, locale and latest version) and one
`notification_template_versions` document per version (its sources and sample data), which
`list`, `versions` and `preview` read. Rendering at trigger time reads the aggregate."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any, Final

from domain.notifications.templates import NotificationTemplate
from projections.read_model.documents import Eq, Query, ReadStore, Upsert

TEMPLATES: Final = "notification_templates"
TEMPLATE_VERSIONS: Final = "notification_template_versions"
MAX_LISTED: Final = 1000


def version_doc_id(template_id: str, version: int) -> str:
    return f"{template_id}:{version}"


class TemplatesProjector:
    name = "notification_templates"
    context = "notifications"
    collections = (TEMPLATES, TEMPLATE_VERSIONS)

    @singledispatchmethod
    def changes(self, event: Any, position: int) -> list[Upsert]:
        return []

    @changes.register
    def _created(self, event: NotificationTemplate.Created, position: int) -> list[Upsert]:
        return [Upsert(TEMPLATES, str(event.originator_id), position, {
            "template_id": str(event.originator_id), "category": event.category,
            "channel": event.channel, "locale": event.locale,
            "created_at": event.at.isoformat(), "position": position})]

    @changes.register
    def _saved(self, event: NotificationTemplate.VersionSaved, position: int) -> list[Upsert]:
        template = str(event.originator_id)
        return [
            Upsert(TEMPLATES, template, position, {
                "version": event.version, "updated_at": event.at.isoformat()}),
            Upsert(TEMPLATE_VERSIONS, version_doc_id(template, event.version), position, {
                "template_id": template, "version": event.version, "title": event.title,
                "body": event.body, "html": event.html,
                "sample_variables": dict(event.sample_variables),
                "saved_at": event.at.isoformat(), "saved_by": str(event.actor_id),
                "position": position}),
        ]


class TemplateQueries:
    """Templates and their versions as operators list and preview them."""

    projection = TemplatesProjector.name  # what a reader waits for

    def __init__(self, store: ReadStore) -> None:
        self._store = store

    def templates(self, category: str | None = None,
                  channel: str | None = None) -> list[dict[str, Any]]:
        """Every template (of a category, on a channel), newest first."""
        filters = [Eq(name, value) for name, value in (("category", category),
                                                       ("channel", channel)) if value]
        return self._store.query(Query(TEMPLATES, filters, limit=MAX_LISTED)).documents

    def template(self, template_id: str) -> dict[str, Any] | None:
        document = self._store.get(TEMPLATES, template_id)
        return document if document and document.get("version") else None

    def versions(self, template_id: str) -> list[dict[str, Any]]:
        """Its versions, oldest first."""
        return self._store.query(Query(TEMPLATE_VERSIONS, [Eq("template_id", template_id)],
                                       sort_field="position", descending=False,
                                       limit=MAX_LISTED)).documents

    def version(self, template_id: str, version: int) -> dict[str, Any] | None:
        return self._store.get(TEMPLATE_VERSIONS, version_doc_id(template_id, version))
