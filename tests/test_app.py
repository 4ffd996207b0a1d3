"""The application shell: health check, JSON errors, body cap, request log."""

from __future__ import annotations

import logging

import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from fediverse_biz.app import http_error
from fediverse_biz.middleware import BodySizeLimit
from fediverse_biz.services import services
from tests.support.servers import LiveServer


async def test_healthz_reports_database_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["database"] == "up"


async def test_healthz_is_503_when_database_is_gone(client: httpx.AsyncClient, app) -> None:  # type: ignore[no-untyped-def]
    # given a pool that can no longer reach the database
    await services(app).pool.close()
    response = await client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"


async def test_unknown_api_path_is_json_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/v1/nothing-here")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


async def test_unknown_page_is_plain_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/no-such-page")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/plain")


async def test_oversized_body_is_413_before_the_handler(client: httpx.AsyncClient, settings) -> None:  # type: ignore[no-untyped-def]
    body = b"x" * (settings.max_request_bytes + 1)
    response = await client.post("/api/v1/statuses", content=body)
    assert response.status_code == 413
    assert response.json() == {"error": "request body too large"}


async def test_oversized_chunked_body_is_413_while_reading() -> None:
    # given a handler that reads its body, behind a 1 KiB cap, and a body with no Content-Length
    async def echo(request: Request) -> Response:
        return PlainTextResponse(str(len(await request.body())))

    app = Starlette(
        routes=[Route("/api/echo", echo, methods=["POST"])],
        middleware=[Middleware(BodySizeLimit, max_bytes=1024)],
        exception_handlers={HTTPException: http_error},
    )

    async def chunks():  # type: ignore[no-untyped-def]
        for _ in range(4):
            yield b"y" * 512

    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        too_big = await c.post("/api/echo", content=chunks())
        small = await c.post("/api/echo", content=b"z" * 1000)
    assert too_big.status_code == 413
    assert too_big.json() == {"error": "request body too large"}
    assert small.status_code == 200 and small.text == "1000"


async def test_each_request_is_logged_once(client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="fediverse_biz.access"):
        await client.get("/healthz")
    records = [r for r in caplog.records if r.name == "fediverse_biz.access"]
    assert len(records) == 1
    assert records[0].method == "GET" and records[0].path == "/healthz" and records[0].status == 200  # type: ignore[attr-defined]
    assert records[0].duration_ms >= 0  # type: ignore[attr-defined]


def test_live_server_answers_over_real_http(live_server: LiveServer) -> None:
    response = httpx.get(f"{live_server.base_url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
