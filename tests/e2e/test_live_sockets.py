"""A live socket holds only while its device and token do, takes small well-formed frames, and
one person cannot open sockets or announce typing without bound."""

from __future__ import annotations

import json
import signal
import threading
import time
from typing import Any

import httpx
import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from parley.launcher import ParleyProcesses
from tests.builders import ParleyClient, Person, a_handle
from tests.e2e.conftest import PROFILES


def socket_of(base_url: str, token: str) -> ClientConnection:
    url = base_url.replace("http://", "ws://") + "/v1/live"
    return connect(url, additional_headers={"Authorization": f"Bearer {token}"},
                   open_timeout=10, max_size=None)


def closing(socket: ClientConnection, timeout: float = 10) -> tuple[int, str]:
    """The close code and reason the server ends the socket with, within `timeout`."""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            socket.recv(timeout=max(0.1, deadline - time.monotonic()))
    except ConnectionClosed as closed:
        assert closed.rcvd is not None, "the server closed without a close frame"
        return closed.rcvd.code, closed.rcvd.reason
    except TimeoutError:
        pass
    raise AssertionError(f"the socket was still open after {timeout} s")


def answer(socket: ClientConnection, frame: str | bytes) -> dict[str, Any]:
    socket.send(frame)
    reply: dict[str, Any] = json.loads(socket.recv(timeout=10))
    return reply


def receive_text(socket: ClientConnection, text: str, timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while text not in socket.recv(timeout=max(0.1, deadline - time.monotonic())):
        assert time.monotonic() < deadline, f"{text!r} never arrived"


def signed_in(parley: ParleyClient, person: Person, password: str) -> dict[str, Any]:
    response = parley.http.post("/v1/sessions", json={
        "handle": person.handle, "password": password, "device_name": "second phone"})
    assert response.status_code == 201, response.text
    grant: dict[str, Any] = response.json()
    return grant


def test_a_bad_token_at_the_handshake_closes_the_socket_with_1008(
        processes: ParleyProcesses) -> None:
    with socket_of(processes.base_url, "forged") as socket:
        code, reason = closing(socket)
    assert code == 1008 and "unauthorized" in reason


def test_frames_that_are_not_json_are_answered_and_the_socket_stays_open(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    ada = parley.register("Ada")
    with socket_of(processes.base_url, ada.token) as socket:
        assert answer(socket, "not json")["detail"] == "not a JSON frame"
        assert answer(socket, b"\x00\x01binary")["detail"] == "frames are JSON text, not binary"
        assert answer(socket, "[" * 1500 + "]" * 1500)["detail"] == "not a JSON frame"
        assert answer(socket, "[1, 2]")["detail"] == "unknown frame"
        assert answer(socket, json.dumps({"type": "ping"}))["type"] == "pong"
    log = (processes.logs / "serve.log").read_text(encoding="utf-8", errors="replace")
    assert "live socket failed" not in log


def test_a_frame_over_the_size_limit_closes_the_socket_with_1009(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    ada = parley.register("Ada")
    with socket_of(processes.base_url, ada.token) as socket:
        socket.send(json.dumps({"type": "ping", "padding": "x" * 5000}))
        code, _ = closing(socket)
    assert code == 1009


@pytest.mark.parley_env(PARLEY_TYPING_RATE_PER_SECOND="0.01", PARLEY_TYPING_BURST="2")
def test_typing_is_throttled_per_person_over_http_and_sockets(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    chat = parley.open_direct(ada, bob)
    # typing reads membership from the read model (it is never stored): wait, bounded, until
    # the new conversation is projected, or the first announcement could be a 404
    deadline = time.monotonic() + 15
    while parley.http.get(f"/v1/conversations/{chat}", headers=ada.auth).status_code != 200:
        assert time.monotonic() < deadline, "the conversation was never projected"
        time.sleep(0.05)
    url = f"/v1/conversations/{chat}/typing"
    statuses = [parley.http.post(url, json={"typing": True}, headers=ada.auth).status_code
                for _ in range(3)]
    assert statuses == [202, 202, 429]
    with socket_of(processes.base_url, ada.token) as socket:
        socket.recv(timeout=10)  # the conversation, caught up
        refused = answer(socket, json.dumps({"type": "typing", "conversation_id": chat}))
    assert refused == {"type": "error", "detail": "typing announced too often; slow down"}


@pytest.mark.parley_env(PARLEY_ACCESS_TOKEN_TTL_SECONDS="4")
def test_a_socket_closes_with_1008_when_its_token_expires_unless_it_authenticates_again(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    handle, password = a_handle(), "correct horse battery"
    registered = parley.http.post("/v1/users", json={"handle": handle, "name": "Ada",
                                                     "password": password}).json()
    with socket_of(processes.base_url, registered["access_token"]) as lapsing, \
            socket_of(processes.base_url, registered["access_token"]) as renewed:
        time.sleep(2)  # so that the fresh token outlives the first one clearly
        fresh = parley.http.post("/v1/sessions/refresh", json={
            "refresh_token": registered["refresh_token"]}).json()["access_token"]
        assert answer(renewed, json.dumps({"type": "authenticate", "token": "forged"})) == {
            "type": "error", "detail": "the token is invalid or expired"}
        assert answer(renewed, json.dumps({"type": "authenticate", "token": fresh}))[
            "type"] == "authenticated"
        code, reason = closing(lapsing)
        assert code == 1008 and "expired" in reason
        assert answer(renewed, json.dumps({"type": "ping"}))["type"] == "pong"


@PROFILES
def test_a_socket_closes_with_1008_when_its_device_is_signed_out_or_revoked(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    password = "correct horse battery"
    ada = parley.register("Ada", password=password)
    other = signed_in(parley, ada, password)
    bob = parley.register("Bob")
    chat = parley.open_direct(bob, ada)
    with socket_of(processes.base_url, ada.token) as first, \
            socket_of(processes.base_url, other["access_token"]) as second:
        parley.sent(bob, chat, "the stream reaches this process")  # it listens: now revoke
        for socket in (first, second):
            receive_text(socket, "the stream reaches this process")
        assert parley.http.delete("/v1/sessions/current", headers=ada.auth).status_code in (
            200, 202)
        code, reason = closing(first, timeout=10)  # well before the 15 s re-check
        assert (code, reason) == (1008, "this device was signed out")
        revoked = parley.http.delete(f"/v1/devices/{other['device_id']}", headers={
            "Authorization": f"Bearer {other['access_token']}"})
        assert revoked.status_code in (200, 202), revoked.text
        assert closing(second, timeout=10)[0] == 1008


@PROFILES
@pytest.mark.parley_env(PARLEY_MAX_SOCKETS_PER_USER="2")
def test_sockets_beyond_the_per_person_limit_are_closed_with_1008(
        request: pytest.FixtureRequest, parley: ParleyClient,
        processes: ParleyProcesses) -> None:
    ada, bob = parley.register("Ada"), parley.register("Bob")
    production = "production" in request.node.name
    # in production the limit holds across API processes: the third socket goes elsewhere
    elsewhere = processes.start_another_api("serve-2") if production else processes.base_url
    with socket_of(processes.base_url, ada.token) as first, \
            socket_of(processes.base_url, ada.token), \
            socket_of(processes.base_url, bob.token) as bobs:
        with socket_of(elsewhere, ada.token) as third:
            code, reason = closing(third)
        assert code == 1008 and "too many live sockets" in reason
        assert answer(bobs, json.dumps({"type": "ping"}))["type"] == "pong"
        first.close()
        deadline = time.monotonic() + 10
        while True:  # the closed socket's lease goes as its handler ends
            with socket_of(elsewhere, ada.token) as again:
                try:
                    assert answer(again, json.dumps({"type": "ping"}))["type"] == "pong"
                    break
                except ConnectionClosed:
                    assert time.monotonic() < deadline, "the freed place was never reused"
                    time.sleep(0.2)
    with httpx.Client(base_url=elsewhere, timeout=10) as http:
        assert http.get("/v1/users/me", headers=ada.auth).status_code == 200


@pytest.mark.services
@pytest.mark.parametrize("processes", ["production"], indirect=True)
@pytest.mark.parley_env(PARLEY_MAX_SOCKETS_PER_USER="2")
def test_a_socket_holds_its_place_once_opened_even_while_its_device_is_still_being_projected(
        parley: ParleyClient, processes: ParleyProcesses) -> None:
    elsewhere = processes.start_another_api("serve-2")
    projector = processes.running["project"]
    projector.send_signal(signal.SIGSTOP)  # the read models lag, as on a loaded machine
    resumed = threading.Timer(2.0, projector.send_signal, [signal.SIGCONT])
    try:
        ada = parley.register("Ada")  # her device reaches the read model only once resumed
        resumed.start()
        with socket_of(processes.base_url, ada.token) as first, \
                socket_of(processes.base_url, ada.token) as second:
            with socket_of(elsewhere, ada.token) as third:
                code, reason = closing(third)
            assert code == 1008 and "too many live sockets" in reason
            for socket in (first, second):
                assert answer(socket, json.dumps({"type": "ping"}))["type"] == "pong"
    finally:
        resumed.cancel()
        projector.send_signal(signal.SIGCONT)
