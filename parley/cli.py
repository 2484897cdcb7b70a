"""The `parley` command line."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import typer

from parley import heap
from parley.apikeys_cli import apikeys
from parley.audit_cli import audit
from parley.audit_queries_cli import roles  # and its queries, on the `audit` group
from parley.cli_settings import command_settings, fail
from parley.compliance_cli import compliance
from parley.notification_trace_cli import trace  # noqa: F401 - `notifications trace`
from parley.notifications_cli import notifications_app
from parley.operations_cli import projections_app, replay
from parley.payments_cli import payments_app
from parley.settings import MissingSetting, Settings
from parley.templates_cli import templates_app
from parley.vapid_cli import vapid

app = typer.Typer(help="Parley: event-sourced messaging backend.", no_args_is_help=True)
services = typer.Typer(help="Private PostgreSQL, Redis, Kafka and Elasticsearch on 127.0.0.1.")
app.add_typer(services, name="services")
secrets_app = typer.Typer(help="Signing keys for PARLEY_SECRET_KEY and PARLEY_AUDIT_KEY.",
                          no_args_is_help=True)
app.add_typer(secrets_app, name="secrets")

REPO_ROOT = Path(__file__).resolve().parent.parent


def started(what: str, settings: Settings) -> Callable[[], None]:
    """What a long-running process does once it has started: settle its heap, then say so."""
    def on_started() -> None:
        heap.settle(settings.gc_young_threshold)
        typer.echo(f"parley: {what} started", err=True)
    return on_started


@app.command()
def serve(
    host: str = typer.Option(None, help="Bind address (default PARLEY_HOST)"),
    port: int = typer.Option(None, help="Port (default PARLEY_PORT)"),
) -> None:
    """Run the HTTP API (in the embedded default, projectors run in this process too)."""
    import uvicorn

    from api.app import create_app
    from parley.bootstrap import build
    from parley.reachability import Unreachable

    settings = command_settings()
    try:
        parley = build(settings)
    except (MissingSetting, Unreachable) as error:
        fail(str(error))
    typer.echo(f"parley: {settings.profile} profile on http://{host or settings.host}:"
               f"{port or settings.port}", err=True)
    heap.settle(settings.gc_young_threshold)
    uvicorn.run(create_app(parley), host=host or settings.host, port=port or settings.port,
                log_level="warning", access_log=False, server_header=False,
                ws_max_size=settings.max_frame_bytes)


@app.command()
def migrate() -> None:
    """Apply PostgreSQL migrations and Elasticsearch index templates (idempotent)."""
    settings = command_settings()
    if settings.profile != "production":
        typer.echo("embedded default: SQLite schemas are created on start; nothing to do")
        return
    from parley.production import migrate_all
    from parley.reachability import Unreachable

    try:
        applied = migrate_all(settings)
    except (MissingSetting, Unreachable) as error:
        fail(str(error))
    typer.echo("applied: " + (", ".join(applied) if applied else "nothing (up to date)"))


@app.command()
def relay() -> None:
    """Publish every stored event to Kafka, resuming from the tracked position."""
    from parley.production import run_relay
    from parley.reachability import Unreachable

    try:
        settings = command_settings()
        run_relay(settings, started("relay", settings))
    except (MissingSetting, Unreachable) as error:
        fail(str(error))


@app.command()
def project() -> None:
    """Consume Kafka and write read models to Elasticsearch."""
    from parley.production import run_projectors
    from parley.reachability import Unreachable

    try:
        settings = command_settings()
        run_projectors(settings, started("projectors", settings))
    except (MissingSetting, Unreachable) as error:
        fail(str(error))


@app.command()
def dispatch(
    priorities: str = typer.Option(
        None, help="Comma-separated priorities this process takes, e.g. critical,high "
        "(default PARLEY_NOTIFICATION_DISPATCH_PRIORITIES: all four)"),
) -> None:
    """Production: send queued notifications through their providers (no HTTP; stops on
    SIGTERM). Run as many as the load needs: they share the jobs through Kafka. Urgent
    dispatchers in processes of their own (--priorities critical,high) never wait behind a
    bulk batch."""
    from parley.production import run_dispatchers
    from parley.reachability import Unreachable
    from parley.settings import dispatch_priorities

    settings = command_settings()
    try:
        taking = None if priorities is None else dispatch_priorities(priorities, "--priorities")
    except ValueError as error:
        fail(str(error))
    try:
        run_dispatchers(settings, started("dispatcher", settings), taking)
    except (MissingSetting, Unreachable) as error:
        fail(str(error))


@secrets_app.command("generate")
def secrets_generate() -> None:
    """Print a new random key (48 bytes, URL-safe base64), for example
    `export PARLEY_SECRET_KEY=$(parley secrets generate)`."""
    from parley.signing_keys import generate_key

    typer.echo(generate_key())


def _services_script(*args: str) -> None:
    script = REPO_ROOT / "deploy" / "services.sh"
    if not script.exists():
        fail(f"{script} not found (services are managed from a source checkout)")
    raise typer.Exit(subprocess.call(["bash", str(script), *args], env=os.environ.copy()))


@services.command("up")
def services_up(name: str = typer.Argument(None)) -> None:
    """Install what is missing and start the services (or one of them)."""
    _services_script("up", *([name] if name else []))


@services.command("down")
def services_down(name: str = typer.Argument(None)) -> None:
    """Stop the services this checkout started (or one of them)."""
    _services_script("down", *([name] if name else []))


@services.command("status")
def services_status() -> None:
    """Show which services are running."""
    _services_script("status")


@services.command("env")
def services_env() -> None:
    """Print the PARLEY_* exports for the running services."""
    _services_script("env")


# The command groups: each imports nothing back from here.
app.command()(replay)
app.add_typer(projections_app, name="projections")
app.add_typer(audit, name="audit")
app.add_typer(roles, name="roles")
app.add_typer(vapid, name="vapid")
app.add_typer(apikeys, name="apikeys")
app.add_typer(notifications_app, name="notifications")
app.add_typer(templates_app, name="templates")
app.add_typer(compliance, name="compliance")
app.add_typer(payments_app, name="payments")


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)
