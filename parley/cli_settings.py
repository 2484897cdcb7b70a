"""What every `parley` command shares: the settings it runs with, and how it fails.

Each command group (`parley.cli`, `parley.audit_cli`, `parley.audit_queries_cli`,
`parley.operations_cli`) imports this module; none imports the `parley` app back.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from parley.logs import configure_logging
from parley.settings import Settings


def command_settings() -> Settings:
    """The settings from the environment (logging configured); a bad one exits 2."""
    try:
        settings = Settings()
    except ValidationError as error:
        fail("; ".join(_setting_problem(problem) for problem in error.errors()))
    configure_logging(settings.log_level)
    return settings


def fail(message: str) -> NoReturn:
    """One line on stderr, exit code 2."""
    typer.echo(f"parley: {message}", err=True)
    raise typer.Exit(code=2)


def _setting_problem(problem: ErrorDetails) -> str:
    """One setting's problem as one clean line (never the value: it may be a secret)."""
    cause = problem.get("ctx", {}).get("error")
    if isinstance(cause, ValueError):
        return str(cause)
    variable = "PARLEY_" + "_".join(str(part) for part in problem["loc"]).upper()
    return f"{variable}: {problem['msg']}"
