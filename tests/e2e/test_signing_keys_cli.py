"""Every `parley` process refuses a weak signing key at start, with one clean line."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from parley.launcher import free_port
from parley.signing_keys import generate_key, key_weakness

COMMANDS = ["serve", "relay", "project", "migrate"]


def parley_command(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = os.environ | {"PARLEY_DATA_DIR": str(tmp_path / "data"),
                                "PARLEY_PORT": str(free_port())} | env
    return subprocess.run([sys.executable, "-m", "parley", *args], env=environment,
                          capture_output=True, text=True, timeout=60, check=False)


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(("variable", "key"), [("PARLEY_SECRET_KEY", "change-me"),
                                               ("PARLEY_AUDIT_KEY", "0123456789abcdef")])
def test_a_weak_key_stops_every_process_at_start_with_one_line(
        tmp_path: Path, command: str, variable: str, key: str) -> None:
    done = parley_command(tmp_path, command, **{variable: key})
    assert done.returncode != 0
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr, done.stderr
    assert done.stderr.startswith(f"parley: {variable} ")
    assert f"export {variable}=$(parley secrets generate)" in done.stderr
    assert key not in done.stderr + done.stdout


def test_generated_keys_are_accepted_at_start(tmp_path: Path) -> None:
    done = parley_command(tmp_path, "migrate", PARLEY_SECRET_KEY=generate_key(),
                          PARLEY_AUDIT_KEY=generate_key(), PARLEY_DATABASE_URL="")
    assert done.returncode == 0, done.stderr


def test_secrets_generate_prints_one_strong_key(tmp_path: Path) -> None:
    first, second = (parley_command(tmp_path, "secrets", "generate") for _ in range(2))
    assert first.returncode == second.returncode == 0, first.stderr
    key = first.stdout.strip()
    assert first.stdout == key + "\n" and key != second.stdout.strip()
    assert key_weakness(key) is None
