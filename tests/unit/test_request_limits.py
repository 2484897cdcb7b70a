"""Request limits: JSON-only bodies under a small cap, except on named upload routes."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from api.http.limits import RequestLimits
from tests.builders import in_chunks

UPLOAD = "/v1/attachments"
CALLBACKS = "/v1/notifications/callbacks/"
FORM = {"content-type": "application/x-www-form-urlencoded"}


async def received(request: Request) -> JSONResponse:
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
    return JSONResponse({"size": size})


class Client:
    """Posts to an app with the limits installed as `api/app.py` installs them, in process."""

    def __init__(self) -> None:
        self.app = Starlette(routes=[Route(path, received, methods=["POST"])
                                     for path in (UPLOAD, f"{UPLOAD}/other", "/v1/commands",
                                                  f"{CALLBACKS}sms/twilio")])
        self.app.add_middleware(RequestLimits, max_body_bytes=100, uploads={UPLOAD: 1000},
                                form_prefixes=(CALLBACKS,))

    def post(self, path: str, content: bytes | Iterator[bytes],
             headers: dict[str, str]) -> httpx.Response:
        async def body() -> AsyncIterator[bytes]:
            for chunk in [content] if isinstance(content, bytes) else content:
                yield chunk

        async def send() -> httpx.Response:
            transport = httpx.ASGITransport(app=self.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                sized = {"content-length": str(len(content))} if isinstance(content, bytes) else {}
                return await http.post(path, content=body(), headers=headers | sized)

        return asyncio.run(send())


@pytest.fixture
def client() -> Client:
    return Client()


def test_the_upload_route_takes_raw_bytes_up_to_its_own_limit(client: Client) -> None:
    response = client.post(UPLOAD, content=b"x" * 1000, headers={"content-type": "image/png"})
    assert response.json() == {"size": 1000}
    streamed = client.post(UPLOAD, content=in_chunks(b"x" * 1000, 64),
                           headers={"content-type": "image/png"})
    assert streamed.json() == {"size": 1000}


def test_the_upload_route_refuses_more_than_its_limit_declared_or_streamed(
        client: Client) -> None:
    declared = client.post(UPLOAD, content=b"x" * 1001, headers={"content-type": "image/png"})
    streamed = client.post(UPLOAD, content=in_chunks(b"x" * 1001, 64),
                           headers={"content-type": "image/png"})
    assert (declared.status_code, streamed.status_code) == (413, 413)


@pytest.mark.parametrize("path", [f"{UPLOAD}/other", "/v1/commands"])
def test_other_routes_keep_the_json_rule_and_the_small_limit(client: Client,
                                                             path: str) -> None:
    not_json = client.post(path, content=b"x" * 10, headers={"content-type": "image/png"})
    too_big = client.post(path, content=b"1" * 101,
                          headers={"content-type": "application/json"})
    streamed = client.post(path, content=in_chunks(b"1" * 101, 10),
                           headers={"content-type": "application/json"})
    assert (not_json.status_code, too_big.status_code, streamed.status_code) == (415, 413, 413)


def test_callback_routes_also_take_forms_but_nothing_else_and_within_the_small_limit(
        client: Client) -> None:
    path = f"{CALLBACKS}sms/twilio"
    form = client.post(path, content=b"MessageStatus=sent", headers=FORM)
    too_big = client.post(path, content=b"a=" + b"x" * 100, headers=FORM)
    not_form = client.post(path, content=b"x" * 10, headers={"content-type": "text/plain"})
    elsewhere = client.post("/v1/commands", content=b"MessageStatus=sent", headers=FORM)
    assert form.json() == {"size": 18}
    assert (too_big.status_code, not_form.status_code, elsewhere.status_code) == (413, 415, 415)
