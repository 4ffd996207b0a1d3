"""A real uvicorn server on a free 127.0.0.1 port, in its own thread and event loop.

Its own loop matters: synchronous clients (Mastodon.py, toot's library) block the thread they run
in, so the server must not share the test's loop. Federation tests start two or three of these.
"""

from __future__ import annotations

import asyncio
import socket
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from starlette.applications import Starlette

from fediverse_biz.app import create_app
from fediverse_biz.config import Settings
from fediverse_biz.db.database import Database
from fediverse_biz.db.pool import create_pool


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # as cli.serve._bind: no delayed-ACK stalls
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    return sock


def make_settings(data_dir: Path, port: int, **overrides: object) -> Settings:
    settings = Settings(
        domain=f"127.0.0.1:{port}",
        scheme="http",
        host="127.0.0.1",
        port=port,
        data_dir=data_dir,
        secret_key="test-secret-" + "x" * 40,
        allow_private_addresses=("127.0.0.0/8",),
        enable_password_grant=True,
        registration_mode="open",
        db_pool_min=1,
        db_pool_max=8,
        workers=4,
    )
    return replace(settings, **overrides)  # type: ignore[arg-type]


def capture_apps(monkeypatch: pytest.MonkeyPatch) -> list[Starlette]:
    """Every app a LiveServer started after this call builds, in order, so a test can look inside it
    (its streaming hub, say) while the server runs in its own thread."""
    apps: list[Starlette] = []
    real_create_app = create_app

    def capture(*args: Any, **kwargs: Any) -> Starlette:
        app = real_create_app(*args, **kwargs)
        apps.append(app)
        return app

    monkeypatch.setattr(sys.modules[__name__], "create_app", capture)
    return apps


class LiveServer:
    def __init__(self, dsn: str, data_dir: Path, **overrides: object) -> None:
        self.sock = free_socket()
        self.port = self.sock.getsockname()[1]
        data_dir.mkdir(parents=True, exist_ok=True)
        self.settings = make_settings(data_dir, self.port, **overrides)
        self.dsn = dsn
        self.base_url = self.settings.base_url
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None

    def start(self) -> LiveServer:
        self._thread = threading.Thread(target=self._run, name=f"live-server-{self.port}", daemon=True)
        self._thread.start()
        if not self._ready.wait(30) or self._error is not None:
            raise RuntimeError(f"live server did not start: {self._error!r}")
        return self

    def _run(self) -> None:
        try:
            asyncio.run(self._serve())
        except BaseException as exc:
            self._error = exc
            self._ready.set()

    async def _serve(self) -> None:
        pool = await create_pool(
            self.dsn, min_size=1, max_size=self.settings.db_pool_max,
            statement_timeout=self.settings.db_statement_timeout, acquire_timeout=self.settings.db_acquire_timeout,
        )
        db = Database(pool=pool, dsn=self.dsn)
        try:
            app = create_app(self.settings, db)
            config = uvicorn.Config(
                app, log_config=None, access_log=False, lifespan="on", timeout_graceful_shutdown=5
            )
            self._server = uvicorn.Server(config)
            serving = asyncio.create_task(self._server.serve(sockets=[self.sock]))
            while not self._server.started and not serving.done():  # noqa: ASYNC110 - uvicorn offers no event
                await asyncio.sleep(0.01)
            self._ready.set()
            await serving
        finally:
            await pool.close()

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(30)
        self.sock.close()
