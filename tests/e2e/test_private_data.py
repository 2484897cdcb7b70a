"""The embedded default's data directory is readable by its owner only."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

from parley.bootstrap import event_log_env
from parley.launcher import ParleyProcesses
from tests.builders import AttachmentClient, ParleyClient, a_file, embedded_settings


def everything_under(root: Path) -> Iterator[Path]:
    yield root
    for directory, subdirectories, files in os.walk(root):
        for name in subdirectories + files:
            yield Path(directory, name)


def laxly_shared(root: Path) -> dict[str, str]:
    """Each path under `root` that anyone but its owner may read, write or enter."""
    return {str(path.relative_to(root.parent)): stat.filemode(path.lstat().st_mode)
            for path in everything_under(root) if path.lstat().st_mode & 0o077}


def test_every_file_and_directory_of_a_running_embedded_parley_is_private(
    processes: ParleyProcesses, parley: ParleyClient
) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    attachment = AttachmentClient(parley).uploaded(ada, a_file())
    parley.sent(ada, chat, "the key is under the mat")
    assert parley.http.post(f"/v1/conversations/{chat}/messages", headers=ada.auth,
                            json={"text": "see", "attachment_ids": [attachment["attachment_id"]]}
                            ).status_code == 201
    replayed = subprocess.run([sys.executable, "-m", "parley", "replay", "messaging"],
                              env=processes.env, capture_output=True, timeout=120, check=False)
    assert replayed.returncode == 0, replayed.stderr.decode()

    data_dir = Path(processes.env["PARLEY_DATA_DIR"])
    names = {path.name for path in everything_under(data_dir)}
    assert {"events.sqlite3-wal", "read_models.sqlite3-wal", "blobs", "locks",
            "replays"} <= names
    assert laxly_shared(data_dir) == {}


def test_a_data_directory_left_readable_by_others_is_tightened_when_opened(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    (data_dir / "blobs").mkdir(parents=True, mode=0o755)
    data_dir.chmod(0o755)
    (data_dir / "events.sqlite3").write_bytes(b"")
    (data_dir / "events.sqlite3").chmod(0o644)
    before = os.umask(0o022)
    try:
        event_log_env(embedded_settings(data_dir))
    finally:
        os.umask(before)
    assert laxly_shared(data_dir) == {}
