"""`parley audit ...` and `parley roles ...` from the operator's shell, beside a running Parley."""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

from domain.identity.accounts import credentials_id
from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person
from tests.e2e.conftest import PROFILES


def parley_cli(processes: ParleyProcesses, *args: str) -> subprocess.CompletedProcess[str]:
    # a wide terminal, so table cells are not folded in the middle of what the test looks for
    return subprocess.run([sys.executable, "-m", "parley", *args], capture_output=True,
                          text=True, env=processes.env | {"COLUMNS": "400"}, timeout=120)


def succeeded(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return done.stdout


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def renamed(parley: ParleyClient, who: Person, name: str, request_id: uuid.UUID) -> None:
    response = parley.http.patch("/v1/users/me", json={"name": name},
                                 headers=who.auth | {"X-Request-Id": str(request_id)})
    assert response.status_code == 200, response.text


@PROFILES
def test_history_as_a_table_and_as_json_lines(parley: ParleyClient,
                                              processes: ParleyProcesses) -> None:
    ada = parley.register("Ada Lovelace")
    request_id = uuid.uuid4()
    renamed(parley, ada, "Ada King", request_id)

    table = succeeded(parley_cli(processes, "audit", "history", ada.user_id))
    assert "User.Registered" in table and "User.ProfileChanged" in table
    assert str(request_id) in table and "Ada King" in table

    registered, changed = json_lines(succeeded(
        parley_cli(processes, "audit", "history", ada.user_id, "--json")))
    assert changed["correlation_id"] == str(request_id) and changed["actor_id"] == ada.user_id
    assert registered["state"]["name"] == "Ada Lovelace"
    assert changed["state"]["name"] == "Ada King"


def test_actor_types_and_correlation_queries(parley: ParleyClient,
                                             processes: ParleyProcesses) -> None:
    ada = parley.register("Ada")
    request_id = uuid.uuid4()
    renamed(parley, ada, "Ada King", request_id)
    renamed(parley, ada, "Ada Byron", uuid.uuid4())

    by_handle = json_lines(succeeded(parley_cli(processes, "audit", "actor", ada.handle,
                                                "--json")))
    assert {"User.Registered", "Device.SignedIn"} <= {e["type"] for e in by_handle}
    renames = [e for e in by_handle if e["type"] == "User.ProfileChanged"]
    assert [e["payload"]["name"] for e in renames] == ["Ada King", "Ada Byron"]
    first = renames[0]["position"]
    in_range = json_lines(succeeded(parley_cli(
        processes, "audit", "types", "User.ProfileChanged", "--from", str(first),
        "--until", str(first), "--json")))
    assert [e["payload"]["name"] for e in in_range] == ["Ada King"]
    followed = json_lines(succeeded(parley_cli(processes, "audit", "correlation",
                                               str(request_id), "--json")))
    assert [e["type"] for e in followed] == ["User.ProfileChanged"]
    listed = succeeded(parley_cli(processes, "audit", "types"))
    assert "Conversation.MessageSent" in listed.split()


def test_state_diff_and_export(parley: ParleyClient, processes: ParleyProcesses,
                               tmp_path: Path) -> None:
    ada = parley.register("Ada")
    renamed(parley, ada, "Ada King", uuid.uuid4())

    state = json.loads(succeeded(parley_cli(processes, "audit", "state", ada.user_id,
                                            "--version", "1", "--json")))
    assert state["version"] == 1 and state["state"]["name"] == "Ada"
    assert "Ada King" in succeeded(parley_cli(processes, "audit", "state", ada.user_id))
    diff = json.loads(succeeded(parley_cli(processes, "audit", "diff", ada.user_id, "1", "2",
                                           "--json")))
    assert diff["changes"] == [{"path": "name", "before": "Ada", "after": "Ada King"}]
    table = succeeded(parley_cli(processes, "audit", "diff", ada.user_id, "1", "2"))
    assert "name" in table and "Ada King" in table

    output = tmp_path / "credentials.jsonl"
    credentials = str(credentials_id(uuid.UUID(ada.user_id)))
    done = parley_cli(processes, "audit", "export", "--aggregate", credentials,
                      "--output", str(output))
    assert done.returncode == 0, done.stderr
    (exported,) = json_lines(output.read_text())
    assert exported["type"] == "Credentials.Established"
    assert exported["payload"]["password_hash"] == "[redacted]"
    assert "argon2" not in output.read_text()


def test_mistakes_are_one_line_on_stderr_and_exit_code_2(parley: ParleyClient,
                                                         processes: ParleyProcesses) -> None:
    ada = parley.register("Ada")
    unknown = parley_cli(processes, "audit", "history", str(uuid.uuid4()))
    assert unknown.returncode == 2 and "no such aggregate" in unknown.stderr
    bad_type = parley_cli(processes, "audit", "types", "User.Exploded")
    assert bad_type.returncode == 2 and "User.Exploded" in bad_type.stderr
    bad_role = parley_cli(processes, "roles", "grant", ada.handle, "superuser")
    assert bad_role.returncode == 2 and "auditor, admin" in bad_role.stderr
    nobody = parley_cli(processes, "roles", "grant", "nobody_here", "auditor")
    assert nobody.returncode == 2 and "no such user" in nobody.stderr


def test_roles_are_granted_shown_and_revoked_with_the_operator_on_record(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    ada = parley.register("Ada")
    assert "granted auditor" in succeeded(parley_cli(processes, "roles", "grant", ada.handle,
                                                     "auditor"))
    assert "nothing to change" in succeeded(parley_cli(processes, "roles", "grant",
                                                       ada.handle, "auditor"))
    assert succeeded(parley_cli(processes, "roles", "show", ada.handle)).strip().endswith(
        "auditor")
    succeeded(parley_cli(processes, "roles", "revoke", ada.handle, "auditor"))
    assert succeeded(parley_cli(processes, "roles", "show", ada.handle)).strip().endswith(
        "none")
    changes = json_lines(succeeded(parley_cli(
        processes, "audit", "types", "UserRoles.RoleGranted,UserRoles.RoleRevoked", "--json")))
    assert [e["type"] for e in changes] == ["UserRoles.RoleGranted", "UserRoles.RoleRevoked"]
    assert all(e["payload"]["operator"] for e in changes)
