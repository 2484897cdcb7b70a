"""`parley templates create|update|preview|versions|list`: notification templates from the
operator's shell, on either profile.

`create` and `update` issue the same commands as the admin API on the profile's event log (as
`parley apikeys` does), checked the same way: a template that fails validation is refused with
the reason and nothing is saved. `versions`, `preview` and `list` read the log itself, so they
are exact the moment a version is saved, with or without a running Parley.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Final

import typer

from parley.apikeys_cli import _execute
from parley.audit_queries_cli import _event_log
from parley.cli_settings import command_settings, fail

if TYPE_CHECKING:
    from domain.notifications.templates import NotificationTemplate
    from event_log.log import EventLog

templates_app = typer.Typer(help="Notification templates: create, update, preview, versions, "
                                 "list.", no_args_is_help=True)

PAGE: Final = 1000
Category = Annotated[str, typer.Option("--category", help="The notification category")]
Channel = Annotated[str, typer.Option("--channel", help="push, email, sms, webhook or in_app")]
Locale = Annotated[str, typer.Option("--locale", help="A language tag (pt-BR) or default")]
Title = Annotated[str, typer.Option("--title", help="The title (an email's subject)")]
Body = Annotated[str | None, typer.Option("--body", help="The text (an email's text part)")]
BodyFile = Annotated[Path | None, typer.Option("--body-file", exists=True, dir_okay=False,
                                               help="Read the text from this file")]
HtmlFile = Annotated[Path | None, typer.Option("--html-file", exists=True, dir_okay=False,
                                               help="Email only: the HTML part's file")]
Sample = Annotated[str | None, typer.Option(
    "--sample", help='Sample variables as JSON, e.g. {"amount": "9.90"}')]
AsJson = Annotated[bool, typer.Option("--json", help="JSON output")]


def _json_object(text: str | None, option: str) -> dict[str, Any]:
    if text is None:
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        fail(f"{option}: not JSON ({error.msg})")
    if not isinstance(value, dict):
        fail(f"{option}: a JSON object is wanted")
    return value


def _sources(title: str, body: str | None, body_file: Path | None,
             html_file: Path | None) -> Any:
    from domain.notifications.rendering import TemplateParts

    if (body is None) == (body_file is None):
        fail("give the text with --body or --body-file")
    text = body if body is not None else body_file.read_text(encoding="utf-8")  # type: ignore[union-attr]
    html = html_file.read_text(encoding="utf-8") if html_file is not None else None
    return TemplateParts(title, text, html)


def _declared() -> dict[str, frozenset[str]]:
    from commands.notifications.templates import declared_variables

    settings = command_settings()
    return declared_variables(settings.notification_categories,
                              settings.notification_template_variables)


def _saved(outcome: Any) -> None:
    saved = outcome.result
    verb = "saved" if saved.changed else "unchanged (the latest version is the same):"
    typer.echo(f"{saved.category}/{saved.channel}/{saved.locale} {verb} version "
               f"{saved.version} (template {saved.template_id})")


@templates_app.command("create")
def create(category: Category, channel: Channel, title: Title = "", body: Body = None,
           body_file: BodyFile = None, html_file: HtmlFile = None, locale: Locale = "default",
           sample: Sample = None) -> None:
    """Version 1 of the template for this category, channel and locale."""
    from commands.notifications.templates import CreateTemplate

    _saved(_execute(CreateTemplate(category, channel, locale,
                                   _sources(title, body, body_file, html_file),
                                   _json_object(sample, "--sample"), _declared(),
                                   datetime.now(UTC))))


@templates_app.command("update")
def update(category: Category, channel: Channel, title: Title = "", body: Body = None,
           body_file: BodyFile = None, html_file: HtmlFile = None, locale: Locale = "default",
           sample: Sample = None) -> None:
    """A new version of the template (the latest's sources again add none)."""
    from commands.notifications.templates import UpdateTemplate

    _saved(_execute(UpdateTemplate(_template_id(category, channel, locale),
                                   _sources(title, body, body_file, html_file),
                                   _json_object(sample, "--sample"), _declared(),
                                   datetime.now(UTC))))


def _template_id(category: str, channel: str, locale: str) -> Any:
    from domain.errors import DomainError
    from domain.notifications.templates import canonical_locale, template_id

    try:
        return template_id(category, channel, canonical_locale(locale))
    except DomainError as error:
        fail(str(error))


def _versions(event_log: EventLog, category: str, channel: str,
              locale: str) -> list[NotificationTemplate.VersionSaved]:
    from domain.notifications.templates import NotificationTemplate

    wanted = _template_id(category, channel, locale)
    saved = [e for e in event_log.repository.event_store.get(wanted)
             if isinstance(e, NotificationTemplate.VersionSaved)]
    if not saved:
        fail(f"no template for {category} on {channel} in {locale}")
    return saved


@templates_app.command("versions")
def versions(category: Category, channel: Channel, locale: Locale = "default",
             as_json: AsJson = False) -> None:
    """Every version, oldest first: its number, when it was saved and its sources."""
    with _event_log() as event_log:
        rows = [{"version": e.version, "saved_at": e.at.isoformat(timespec="seconds"),
                 "title": e.title, "body": e.body, "html": e.html,
                 "sample_variables": e.sample_variables}
                for e in _versions(event_log, category, channel, locale)]
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    for row in rows:
        typer.echo(f"version {row['version']} saved {row['saved_at']}: title "
                   f"{row['title']!r}, body {row['body']!r}"
                   + (" (and an html part)" if row["html"] is not None else ""))


@templates_app.command("preview")
def preview(category: Category, channel: Channel, locale: Locale = "default",
            version: Annotated[int | None, typer.Option(
                "--version", min=1, help="Default: the latest")] = None,
            variables: Annotated[str | None, typer.Option(
                "--variables", help="JSON; default: the version's sample data")] = None,
            as_json: AsJson = False) -> None:
    """Render a version as a notification would be (nothing is sent or saved)."""
    from domain.errors import DomainError
    from domain.notifications.rendering import TemplateParts, render
    from domain.notifications.templates import TemplateRules, rendered_content

    with _event_log() as event_log:
        saved = _versions(event_log, category, channel, locale)
    chosen = saved[-1] if version is None else next(
        (e for e in saved if e.version == version), None)
    if chosen is None:
        fail(f"no version {version} (the latest is {saved[-1].version})")
    given = _json_object(variables, "--variables") if variables is not None else \
        TemplateRules(_declared().get(category, frozenset()),
                      chosen.sample_variables).sample_data()
    try:
        content = rendered_content(render(TemplateParts(chosen.title, chosen.body,
                                                        chosen.html), given), channel, {}, None)
    except DomainError as error:
        fail(str(error))
    shown = {"version": chosen.version, "title": content.title, "body": content.body,
             "html": content.html}
    if as_json:
        typer.echo(json.dumps(shown))
        return
    typer.echo(f"version {chosen.version}\ntitle: {content.title}\n\n{content.body}")
    if content.html is not None:
        typer.echo(f"\n--- html ---\n{content.html}")


def _created(event_log: EventLog) -> Iterator[Any]:
    from eventsourcing.utils import get_topic

    from domain.notifications.templates import NotificationTemplate

    topic = get_topic(NotificationTemplate.Created)
    start: int | None = 1
    while start is not None:
        page = event_log.recorder.select_notifications(start, PAGE, topics=[topic])
        yield from page
        start = page[-1].id + 1 if len(page) == PAGE else None


@templates_app.command("list")
def list_templates(as_json: AsJson = False) -> None:
    """Every template, oldest first: category, channel, locale, latest version, its id."""
    from domain.notifications.templates import NotificationTemplate

    rows: list[dict[str, Any]] = []
    with _event_log() as event_log:
        for stored in _created(event_log):
            template: object = event_log.repository.get(stored.originator_id)
            assert isinstance(template, NotificationTemplate)
            rows.append({"template_id": str(template.id), "category": template.category,
                         "channel": template.channel, "locale": template.locale,
                         "version": template.latest,
                         "updated_at": template.saved_at.isoformat(timespec="seconds")})
    if as_json:
        for row in rows:
            typer.echo(json.dumps(row))
        return
    from rich.console import Console
    from rich.table import Column, Table

    table = Table("category", "channel", "locale", Column("version", justify="right"),
                  Column("updated", no_wrap=True), Column("id", no_wrap=True),
                  caption=f"{len(rows)} template{'' if len(rows) == 1 else 's'}")
    for row in rows:
        table.add_row(row["category"], row["channel"], row["locale"], str(row["version"]),
                      row["updated_at"], row["template_id"])
    Console().print(table)
