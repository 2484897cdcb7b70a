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

# How long a process may take to answer or log that it started: generous, since end-to-end
# tests run on shared machines where a production `parley serve` took over 60 s at load 20+.
START_SECONDS = 120.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ParleyProcesses:
    """`parley serve` (and, in production, `parley relay` and `parley project`; `start` or
    `start_named` runs others, e.g. `parley dispatch`, and `kill` stops one with SIGKILL)."""

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
        self._spawn(role, args)

    def start_named(self, name: str, role: str, *options: str) -> None:
        """One more process of `role` (e.g. a second `parley dispatch`, with `options` such as
        `--priorities critical,high`), known as `name`."""
        self._spawn(name, [sys.executable, "-m", "parley", role, *options])

    def start_another_api(self, name: str, env: dict[str, str] | None = None) -> str:
        """One more `parley serve` (production: it shares everything through the services),
        with `env` over the processes' settings; returns its base URL once it answers."""
        port = free_port()
        self._spawn(name, [sys.executable, "-m", "parley", "serve", "--port", str(port)], env)
        base_url = f"http://127.0.0.1:{port}"
        self._wait_until_answering(name, base_url, START_SECONDS)
        return base_url

    def _spawn(self, name: str, args: list[str], env: dict[str, str] | None = None) -> None:
        log_file = (self.logs / f"{name}.log").open("ab")
        self.running[name] = subprocess.Popen(args, env=self.env | (env or {}), stdout=log_file,
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

    def wait_until_serving(self, timeout: float = START_SECONDS) -> None:
        self._wait_until_answering("serve", self.base_url, timeout)

    def _wait_until_answering(self, name: str, base_url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            process = self.running[name]
            if process.poll() is not None:
                raise RuntimeError(f"parley {name} exited: {self.log_tail(name)}")
            try:
                if httpx.get(f"{base_url}/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"parley {name} did not start: {self.log_tail(name)}")

    def wait_until_logged(self, role: str, text: str, timeout: float = START_SECONDS) -> None:
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
