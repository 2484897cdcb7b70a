"""Runs real `parley` processes (for end-to-end tests and benchmarks) and stops them by pid."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ParleyProcesses:
    """`parley serve` (and, in production, `parley relay` and `parley project`)."""

    def __init__(self, env: dict[str, str], logs: Path) -> None:
        self.env = os.environ.copy() | env
        self.logs = logs
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, role: str) -> None:
        args = [sys.executable, "-m", "parley", role]
        if role == "serve":
            args += ["--port", str(self.port)]
        log_file = (self.logs / f"{role}.log").open("ab")
        self.running[role] = subprocess.Popen(args, env=self.env, stdout=log_file,
                                              stderr=subprocess.STDOUT)

    @contextlib.contextmanager
    def serving(self, profile: str) -> Iterator[ParleyProcesses]:
        """`serve` answering, and in production `relay` and `project` started too; all
        stopped on the way out."""
        try:
            self.start("serve")
            self.wait_until_serving()
            if profile == "production":
                self.start("relay")
                self.start("project")
                self.wait_until_logged("relay", "relay started")
                self.wait_until_logged("project", "projectors started")
            yield self
        finally:
            self.stop_all()

    def kill(self, role: str) -> None:
        """kill -9: no chance to flush, commit or say goodbye."""
        process = self.running.pop(role)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def wait_until_serving(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.running["serve"]
            if process.poll() is not None:
                raise RuntimeError(f"parley serve exited: {self.log_tail('serve')}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"parley serve did not start: {self.log_tail('serve')}")

    def wait_until_logged(self, role: str, text: str, timeout: float = 60.0) -> None:
        """Until `role` has written `text` to its log (e.g. that it started)."""
        deadline = time.monotonic() + timeout
        path = self.logs / f"{role}.log"
        while time.monotonic() < deadline:
            if path.exists() and text in path.read_text(errors="replace"):
                return
            if self.running[role].poll() is not None:
                raise RuntimeError(f"parley {role} exited: {self.log_tail(role)}")
            time.sleep(0.2)
        raise RuntimeError(f"parley {role} did not log {text!r}: {self.log_tail(role)}")

    def log_tail(self, role: str) -> str:
        path = self.logs / f"{role}.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""

    def stop_all(self) -> None:
        for process in self.running.values():
            process.send_signal(signal.SIGTERM)
        for process in self.running.values():
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.running.clear()
