"""Runs an ASGI app (a provider's stand-in) on 127.0.0.1 on a thread of its own, with hypercorn:
HTTP/1.1, or HTTP/2 over TLS (ALPN h2) with a certificate from a throwaway test CA (trustme)."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
import struct
import tempfile
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

import trustme
from hypercorn.asyncio import serve
from hypercorn.config import Config


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class LocalServer:
    """`with LocalServer(app) as server:` serves `app` at `server.url` until the block ends.

    tls=True serves HTTPS (HTTP/2 and HTTP/1.1 by ALPN) with a certificate for 127.0.0.1 from
    a test CA; `server.client_ssl_context()` trusts it (or `server.ca_file` for httpx `verify`).
    """

    def __init__(self, app: Any, *, tls: bool = False, port: int | None = None,
                 start_timeout: float = 10.0) -> None:
        self.app = app
        self.tls = tls
        self.port = port or free_port()
        self._start_timeout = start_timeout
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._directory = tempfile.TemporaryDirectory(prefix="parley-provider-")
        self.ca_file: str | None = None
        self._config = Config()
        self._config.bind = [f"127.0.0.1:{self.port}"]
        self._config.accesslog = None
        self._config.errorlog = None
        self._config.graceful_timeout = 1.0
        if tls:
            authority = trustme.CA()
            certificate = authority.issue_cert("127.0.0.1", "localhost")
            directory = Path(self._directory.name)
            key, chain, ca = directory / "key.pem", directory / "chain.pem", directory / "ca.pem"
            certificate.private_key_pem.write_to_path(str(key))
            certificate.private_key_and_cert_chain_pem.write_to_path(str(chain))
            authority.cert_pem.write_to_path(str(ca))
            self._config.certfile = str(chain)
            self._config.keyfile = str(key)
            self._config.alpn_protocols = ["h2", "http/1.1"]
            self.ca_file = str(ca)

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    def client_ssl_context(self) -> ssl.SSLContext:
        assert self.ca_file is not None, "not a TLS server"
        return ssl.create_default_context(cafile=self.ca_file)

    def start(self) -> LocalServer:
        self._thread = threading.Thread(target=self._run, name=f"provider-{self.port}",
                                        daemon=True)
        self._thread.start()
        if not self._started.wait(self._start_timeout):
            raise RuntimeError(f"local server on port {self.port} did not start")
        if self._error is not None:
            raise RuntimeError("local server failed to start") from self._error
        return self

    def stop(self) -> None:
        if self._loop is not None and self._stopping is not None:
            self._loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self._directory.cleanup()

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.stop()

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        # hypercorn's h2 protocol can trip over a stream a client reset while the server stops
        # (KeyError in _handle_events); that is the stand-in's noise, not the test's concern
        loop.set_exception_handler(lambda _loop, context: None)
        self._loop = loop
        try:
            loop.run_until_complete(self._serve())
        except BaseException as error:  # noqa: BLE001 - reported to start()
            self._error = error
            self._started.set()
        finally:
            loop.close()

    async def _serve(self) -> None:
        self._stopping = asyncio.Event()
        task = asyncio.ensure_future(serve(self.app, self._config,
                                           shutdown_trigger=self._stopping.wait))
        # ready once the port accepts connections
        for _ in range(int(self._start_timeout / 0.02)):
            if task.done():
                task.result()
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", self.port)
            except OSError:
                await asyncio.sleep(0.02)
                continue
            writer.close()
            break
        self._started.set()
        await task


class DroppingServer:
    """`with DroppingServer() as server:` a TCP port on 127.0.0.1 that accepts connections and
    drops each with a reset: at once (`after_request=False`), or once the request's first
    bytes arrived, so the client sent its request and never hears an answer."""

    def __init__(self, *, after_request: bool = True) -> None:
        self._after_request = after_request
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.port = int(self._listener.getsockname()[1])
        self.dropped = 0
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"dropping-{self.port}",
                                        daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> DroppingServer:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self._stopping.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                connection, _ = self._listener.accept()
            except TimeoutError:
                continue
            with connection:
                if self._after_request:
                    connection.settimeout(1.0)
                    with contextlib.suppress(OSError):
                        connection.recv(65536)
                # linger 0: close with a reset, as a crashed or cut-off server does
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                      struct.pack("ii", 1, 0))
            self.dropped += 1
