"""Notification templates: one per category x channel x locale, every version an event.

A template is saved only if it compiles in the sandbox (domain/notifications/rendering.py),
reads no variable its category does not declare (an operator setting), and, rendered with
sample data, fits what its channel carries. A notification records the template, version and
locale it was rendered with (`Notification.Requested.renderings`), so what a person was sent
can be told years later; old versions stay in the log.

Locales: a BCP 47 tag such as `pt-BR` (kept as language lower case, region upper case), or
`default`, the template used when none of the recipient's locale chain has one:
`pt-BR` -> `pt` -> `default`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final
from uuid import UUID, uuid5

from domain.errors import Conflict, InvalidCommand, NotFound
from domain.notifications.channels import CHANNELS, EMAIL
from domain.notifications.content import (
    BODY_MAX_CHARS,
    EMAIL_MAX_BYTES,
    TITLE_MAX_CHARS,
    Content,
    content_problem,
)
from domain.notifications.notifications import NOTIFICATION_NAMESPACE
from domain.notifications.rendering import (
    RenderedParts,
    TemplateParts,
    TemplateRefused,
    check_syntax,
    render,
)
from event_log.aggregate import SNAPSHOT_EVERY, Cause, ParleyAggregate, copied

DEFAULT_LOCALE: Final = "default"
MAX_VERSIONS: Final = 1000
MAX_TEMPLATES: Final = 2000  # every category x channel x locale of a deployment
TEMPLATE_CATALOG_ID: Final = uuid5(NOTIFICATION_NAMESPACE, "template-catalog")
MAX_TITLE_SOURCE: Final = 2_000
MAX_BODY_SOURCE: Final = 20_000
MAX_HTML_SOURCE: Final = 100_000
_LOCALE: Final = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8}){0,3}$")


class TemplateNotFound(NotFound):
    """No such template (or no such version of it)."""


class TemplateExists(Conflict):
    """A template for this category, channel and locale exists already: update it."""


class TooManyTemplateVersions(Conflict):
    """A template has as many versions as one may have."""


class TooManyTemplates(Conflict):
    """The deployment has as many templates as it may have."""


class BadLocale(InvalidCommand):
    """A locale that is neither a BCP 47 language tag nor `default`."""


def canonical_locale(locale: str) -> str:
    """`pt_br` and `PT-br` are `pt-BR`; `default` is itself; anything else is BadLocale."""
    if locale == DEFAULT_LOCALE:
        return locale
    if not _LOCALE.match(locale):
        raise BadLocale("locale", "a language tag such as pt-BR or en, or default")
    language, *rest = re.split(r"[-_]", locale)
    subtags = [s.upper() if len(s) == 2 else s.title() if len(s) == 4 else s.lower()
               for s in rest]
    return "-".join([language.lower(), *subtags])


def locale_chain(locale: str | None) -> list[str]:
    """The locales tried in order: `pt-BR` -> [`pt-BR`, `pt`, `default`]."""
    if not locale or locale == DEFAULT_LOCALE:
        return [DEFAULT_LOCALE]
    subtags = canonical_locale(locale).split("-")
    return ["-".join(subtags[:n]) for n in range(len(subtags), 0, -1)] + [DEFAULT_LOCALE]


def template_id(category: str, channel: str, locale: str) -> UUID:
    return uuid5(NOTIFICATION_NAMESPACE, f"template/{category}/{channel}/{locale}")


@dataclass(frozen=True)
class TemplateRules:
    """What a template is checked against: the variables its category declares, and the
    sample values it is rendered with at save (a declared variable without one is given
    the text `<name>`)."""

    declared: frozenset[str]
    sample: Mapping[str, Any]

    def sample_data(self) -> dict[str, Any]:
        return {name: f"<{name}>" for name in self.declared} | dict(self.sample)


def rendered_content(parts: RenderedParts, channel: str, data: Mapping[str, Any],
                     deep_link: str | None) -> Content:
    """The rendered parts as a channel's content; TemplateRefused if it cannot carry it."""
    if len(parts.title) > TITLE_MAX_CHARS:
        raise TemplateRefused("title", f"title: renders to more than {TITLE_MAX_CHARS} "
                                       "characters")
    if len(parts.body) > BODY_MAX_CHARS:
        raise TemplateRefused("body", f"body: renders to more than {BODY_MAX_CHARS} "
                                      "characters")
    if not parts.body:
        raise TemplateRefused("body", "body: renders to nothing")
    if parts.html is not None and len(parts.html.encode()) > EMAIL_MAX_BYTES:
        raise TemplateRefused("html", f"html: renders to more than {EMAIL_MAX_BYTES} bytes")
    content = Content(parts.title, parts.body, data, deep_link, html=parts.html)
    problem = content_problem(content, channel)
    if problem is not None:
        raise TemplateRefused("body", f"the rendered {channel} content {problem}")
    return content


def check_template(parts: TemplateParts, channel: str, rules: TemplateRules) -> None:
    """Everything a template must pass to be saved (TemplateRefused names the first fault)."""
    if channel not in CHANNELS:
        raise InvalidCommand("channel", f"one of {', '.join(CHANNELS)}")
    if parts.html is not None and channel != EMAIL:
        raise TemplateRefused("html", "only an email template has an html part")
    for name, source, limit in (("title", parts.title, MAX_TITLE_SOURCE),
                                ("body", parts.body, MAX_BODY_SOURCE),
                                ("html", parts.html or "", MAX_HTML_SOURCE)):
        if len(source) > limit:
            raise TemplateRefused(name, f"{name}: a template part has at most {limit} "
                                        "characters")
    unknown = sorted(check_syntax(parts) - rules.declared)
    if unknown:
        declared = ", ".join(sorted(rules.declared)) or "none"
        raise TemplateRefused("variables", f"unknown variable{'s' * (len(unknown) > 1)} "
                                           f"{', '.join(unknown)} (the category declares "
                                           f"{declared})")
    rendered_content(render(parts, rules.sample_data()), channel, {}, None)


class NotificationTemplate(ParleyAggregate):
    snapshot_every = 100  # a template read at trigger time loads a snapshot and a few events

    def __init__(self, category: str, channel: str, locale: str, at: datetime) -> None:
        self.category = category
        self.channel = channel
        self.locale = locale
        self.created_at = at
        self.latest = 0  # the latest version's number (`version` is the aggregate's own)
        self.title = ""
        self.body = ""
        self.html: str | None = None
        self.sample_variables: dict[str, Any] = {}
        self.saved_at = at

    class Created(ParleyAggregate.Created):
        category: str
        channel: str
        locale: str
        at: datetime

    class VersionSaved(ParleyAggregate.Event):
        """Version `version`'s sources and the sample data it was checked with."""

        version: int
        title: str
        body: str
        html: str | None
        sample_variables: dict[str, Any]
        at: datetime
        copies = copied("title", "body", "html", "sample_variables", latest="version",
                        saved_at="at")

    @classmethod
    def create(cls, category: str, channel: str, locale: str, parts: TemplateParts,
               rules: TemplateRules, at: datetime, cause: Cause) -> NotificationTemplate:
        check_template(parts, channel, rules)
        template = cls._create(cls.Created, id=template_id(category, channel, locale),
                               category=category, channel=channel, locale=locale, at=at,
                               **cause.as_event_fields())
        template._save(parts, rules, at, cause)
        return template

    def update(self, parts: TemplateParts, rules: TemplateRules, at: datetime,
               cause: Cause) -> bool:
        """A new version, unless the parts and sample are the latest's (then False)."""
        if parts == self.parts and dict(rules.sample) == self.sample_variables:
            return False
        if self.latest >= MAX_VERSIONS:
            raise TooManyTemplateVersions("template", f"a template has at most {MAX_VERSIONS} "
                                                      "versions")
        check_template(parts, self.channel, rules)
        self._save(parts, rules, at, cause)
        return True

    def _save(self, parts: TemplateParts, rules: TemplateRules, at: datetime,
              cause: Cause) -> None:
        self.trigger_event(self.VersionSaved, version=self.latest + 1, title=parts.title,
                           body=parts.body, html=parts.html,
                           sample_variables=dict(rules.sample), at=at,
                           **cause.as_event_fields())

    @property
    def parts(self) -> TemplateParts:
        return TemplateParts(self.title, self.body, self.html)


class TemplateCatalog(ParleyAggregate):
    """The deployment's templates, counted (write-side: it bounds how many there may be)."""

    snapshot_every = SNAPSHOT_EVERY

    def __init__(self) -> None:
        self.count = 0

    class Opened(ParleyAggregate.Created):
        pass

    class Included(ParleyAggregate.Event):
        template_id: UUID

        def apply(self, aggregate: Any) -> None:
            aggregate.count += 1

    @classmethod
    def open(cls, cause: Cause) -> TemplateCatalog:
        return cls._create(cls.Opened, id=TEMPLATE_CATALOG_ID, **cause.as_event_fields())

    def include(self, template: UUID, cause: Cause) -> None:
        if self.count >= MAX_TEMPLATES:
            raise TooManyTemplates("locale", f"a deployment has at most {MAX_TEMPLATES} "
                                             "templates")
        self.trigger_event(self.Included, template_id=template, **cause.as_event_fields())
