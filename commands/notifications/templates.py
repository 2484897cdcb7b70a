"""Saving notification templates (admins: the API and `parley templates`), and rendering the
ones a triggered notification uses."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.notifications.content import Content, Rendering
from domain.notifications.errors import UnknownCategory
from domain.notifications.preferences import NotificationPreferences, notification_preferences_id
from domain.notifications.rendering import TemplateParts, TemplateRefused, render
from domain.notifications.templates import (
    TEMPLATE_CATALOG_ID,
    NotificationTemplate,
    TemplateCatalog,
    TemplateExists,
    TemplateNotFound,
    TemplateRules,
    canonical_locale,
    locale_chain,
    rendered_content,
    template_id,
)
from event_log.aggregate import Cause
from event_log.batch import Batch
from event_log.outcomes import Handler


@dataclass(frozen=True)
class CreateTemplate:
    """`declared` maps each category the deployment defines to the variables it declares
    (PARLEY_NOTIFICATION_TEMPLATE_VARIABLES; given by the route or the CLI)."""

    category: str
    channel: str
    locale: str
    parts: TemplateParts = field(repr=False)
    sample_variables: Mapping[str, Any] = field(repr=False)
    declared: Mapping[str, frozenset[str]] = field(repr=False)
    at: datetime


@dataclass(frozen=True)
class UpdateTemplate:
    template_id: UUID
    parts: TemplateParts = field(repr=False)
    sample_variables: Mapping[str, Any] = field(repr=False)
    declared: Mapping[str, frozenset[str]] = field(repr=False)
    at: datetime


@dataclass(frozen=True)
class TemplateSaved:
    template_id: UUID
    category: str
    channel: str
    locale: str
    version: int
    changed: bool  # False: the update was the latest version again (no new version)
    created_at: datetime  # the template's Created event's
    updated_at: datetime  # its latest version's VersionSaved event's


def _rules(category: str, command: CreateTemplate | UpdateTemplate) -> TemplateRules:
    if category not in command.declared:
        raise UnknownCategory("category", f"no such category (one of "
                                          f"{', '.join(sorted(command.declared))})")
    return TemplateRules(command.declared[category], command.sample_variables)


def _saved(template: NotificationTemplate, changed: bool) -> TemplateSaved:
    return TemplateSaved(template.id, template.category, template.channel, template.locale,
                         template.latest, changed, template.created_at, template.saved_at)


def create_template(batch: Batch, command: CreateTemplate, cause: Cause) -> TemplateSaved:
    rules = _rules(command.category, command)
    locale = canonical_locale(command.locale)
    if batch.find(NotificationTemplate,
                  template_id(command.category, command.channel, locale)) is not None:
        raise TemplateExists("locale", "a template for this category, channel and locale "
                                       "exists: update it")
    template = NotificationTemplate.create(command.category, command.channel, locale,
                                           command.parts, rules, command.at, cause)
    catalog = batch.find(TemplateCatalog, TEMPLATE_CATALOG_ID) or TemplateCatalog.open(cause)
    catalog.include(template.id, cause)  # refused at the limit: nothing was added yet
    batch.add(catalog)
    batch.add(template)
    return _saved(template, True)


def update_template(batch: Batch, command: UpdateTemplate, cause: Cause) -> TemplateSaved:
    template = batch.find(NotificationTemplate, command.template_id)
    if template is None:
        raise TemplateNotFound("template_id", "no such template")
    rules = _rules(template.category, command)
    changed = template.update(command.parts, rules, command.at, cause)
    return _saved(template, changed)


@dataclass(frozen=True)
class Rendered:
    """A channel's content from a template, and which template, version and locale made it."""

    channel: str
    template_id: UUID
    version: int
    locale: str
    content: Content = field(repr=False)


class TemplateRenderer:
    """Renders one trigger's templates: the same template and version is rendered once for
    every recipient who gets it (the variables are the trigger's, the same for all)."""

    def __init__(self, batch: Batch, category: str, variables: Mapping[str, Any],
                 data: Mapping[str, Any], deep_link: str | None) -> None:
        self._batch = batch
        self._category = category
        self._variables = variables
        self._data = data
        self._deep_link = deep_link
        self._done: dict[tuple[UUID, int], Content] = {}
        # a trigger's recipients mostly share a few locales: each is looked up once
        self._by_locale: dict[tuple[tuple[str, ...], str | None],
                              tuple[Content, list[Rendered]]] = {}

    def render(self, channel: str, locale: str | None) -> Rendered | None:
        """The channel's content in the first locale of the chain with a template (None:
        no template at all for the category on the channel)."""
        for candidate in locale_chain(locale):
            template = self._batch.find(NotificationTemplate,
                                        template_id(self._category, channel, candidate))
            if template is None:
                continue
            key = (template.id, template.latest)
            if key not in self._done:
                try:
                    parts = render(template.parts, self._variables)
                except TemplateRefused as refused:
                    raise TemplateRefused("template_variables",
                                          f"the {channel} template: {refused}") from None
                self._done[key] = rendered_content(parts, channel, self._data,
                                                   self._deep_link)
            return Rendered(channel, template.id, template.latest, template.locale,
                            self._done[key])
        return None

    def render_all(self, channels: Sequence[str], locale: str | None) -> list[Rendered]:
        return [r for r in (self.render(c, locale) for c in channels) if r is not None]

    def templated(self, channels: Sequence[str],
                  locale: str | None) -> tuple[Content, list[Rendered]]:
        """`templated` for this trigger, found once per locale (the templates and variables
        are the same for every recipient of one trigger)."""
        key = (tuple(channels), locale)
        if key not in self._by_locale:
            self._by_locale[key] = _templated(self, channels, locale)
        content, renderings = self._by_locale[key]
        return content, list(renderings)


TEMPLATE_HANDLERS: Mapping[type, Handler] = {
    CreateTemplate: create_template,
    UpdateTemplate: update_template,
}


def recipient_locales(batch: Batch, recipients: Sequence[UUID],
                      asked: str | None) -> dict[UUID, str | None]:
    """The locale each recipient's templates are chosen in: their own (their preferences'
    LocaleSet), else the trigger's, else none (the default templates); one read for all."""
    ids = {recipient: notification_preferences_id(recipient) for recipient in recipients}
    found = batch.find_all(NotificationPreferences, ids.values())
    locales: dict[UUID, str | None] = {}
    for recipient, preferences_id in ids.items():
        preferences = found.get(preferences_id)
        own = preferences.locale if preferences is not None else None
        locales[recipient] = str(own) if own else asked
    return locales


def templated(renderer: TemplateRenderer, channels: Sequence[str],
              locale: str | None) -> tuple[Content, list[Rendered]]:
    """Every channel's content from its template, and the content the notification records
    as its own (the inbox's, else the first channel's). A channel without a template for the
    category in any locale of the chain is refused: a templated trigger has no other text."""
    return renderer.templated(channels, locale)


def _templated(renderer: TemplateRenderer, channels: Sequence[str],
               locale: str | None) -> tuple[Content, list[Rendered]]:
    renderings = renderer.render_all(channels, locale)
    missing = sorted(set(channels) - {r.channel for r in renderings})
    if missing:
        raise TemplateRefused("template_variables", f"no template for this category on "
                                                    f"{', '.join(missing)} (locales tried: "
                                                    f"{', '.join(locale_chain(locale))})")
    own = next((r for r in renderings if r.channel == "in_app"), renderings[0])
    return own.content, renderings


def renderings_of(renderings: Sequence[Rendered], locale: str | None) -> list[Rendering]:
    """What the notification records of its templates (in its `Requested` event)."""
    return [Rendering(r.channel, r.template_id, r.version, r.locale, locale, r.content)
            for r in renderings]


def declared_variables(categories: Sequence[str],
                       variables: Mapping[str, Sequence[str]]) -> dict[str, frozenset[str]]:
    """The categories a deployment defines, each with the variables it declares (none if the
    setting names none for it)."""
    return {category: frozenset(variables.get(category, ())) for category in categories}
