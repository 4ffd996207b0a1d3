"""create_app(settings) -> Starlette: the lifespan owns the database pool and the one HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from . import __version__
from .api.entities import AccountEntities
from .api.errors import exception_handlers as api_exception_handlers
from .api.read_slots import read_slots
from .api.streaming_hub import StreamingHub
from .config import Settings
from .core import accounts
from .core.errors import DomainError
from .core.urls import LocalUrls
from .db.database import Database, open_database
from .db.pool import ping
from .federation import domain_blocks, jobs
from .federation.fetch import create_session
from .federation.signed_requests import KeyCache
from .federation.worker import run_workers
from .jsonio import JSONResponse
from .middleware import (
    BodyReadTimeout,
    BodySizeLimit,
    CountRequests,
    DatabaseUnavailable,
    RequestLog,
    WebLoad,
    wants_json,
)
from .ratelimit import RateLimit
from .web.inputs import BadPageInput
from .web.rendering import bad_input_page

log = logging.getLogger(__name__)

USER_AGENT = f"fediverse_biz/{__version__}"


async def healthz(request: Request) -> Response:
    # Bounded by its own short timeout, not the statement bound every query gets: a load balancer asking
    # must hear "down" while the database is frozen, not wait as long as it stays frozen.
    try:
        await ping(request.app.state.pool)
    except Exception as exc:  # any database failure means "not healthy", never a 500
        log.warning("health check failed: %s", f"{type(exc).__name__} {exc}".strip())
        return JSONResponse({"status": "unavailable", "database": "down"}, status_code=503)
    return JSONResponse({"status": "ok", "database": "up", "version": __version__})


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if wants_json(request.url.path):
        return JSONResponse({"error": exc.detail}, status_code=exc.status_code, headers=exc.headers)
    return PlainTextResponse(exc.detail, status_code=exc.status_code, headers=exc.headers)


async def domain_error(request: Request, exc: Exception) -> Response:
    """A domain operation refused the request (core.errors.DomainError): its status, its message."""
    assert isinstance(exc, DomainError)
    if wants_json(request.url.path):
        return JSONResponse({"error": str(exc)}, status_code=exc.status)
    return PlainTextResponse(str(exc), status_code=exc.status)


# nginx's "client closed request": a client-side event, which the access log shows and nothing else does.
CLIENT_CLOSED_REQUEST = 499


async def client_disconnected(request: Request, exc: Exception) -> Response:
    """The client went away before sending all of its body (Starlette's ClientDisconnect, from
    request.body(), .stream(), .form()): nobody is left to read an answer, and nothing failed here, so
    not a 500 with a traceback but 499 in the access log."""
    return Response(status_code=CLIENT_CLOSED_REQUEST)


async def server_error(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
    if wants_json(request.url.path):
        return JSONResponse({"error": "internal server error"}, status_code=500)
    return PlainTextResponse("internal server error", status_code=500)


def all_routes() -> list[BaseRoute]:
    from .api.routes import routes as api_routes
    from .federation.routes import routes as federation_routes
    from .web.routes import routes as web_routes

    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        *federation_routes(),
        *api_routes(),
        *web_routes(),
    ]


def create_app(settings: Settings, database: Database | None = None) -> Starlette:
    """The ASGI application. Pass `database` to reuse an open one (tests); otherwise the lifespan
    opens the configured database (starting the embedded cluster if needed) and closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = database if database is not None else await open_database(settings, own_embedded=True)
        http = create_session(settings.allow_private_addresses, user_agent=USER_AGENT)
        app.state.settings = settings
        app.state.db = db
        app.state.pool = db.pool
        app.state.urls = LocalUrls(settings.base_url)
        app.state.http = http
        # Streaming clients share one LISTEN connection per process (api/streaming_hub.py).
        app.state.streaming = StreamingHub(db.pool, app.state.urls)
        # The inbox's door wakes the workers (here or in other processes) through this (federation/jobs.py).
        app.state.job_wakeups = jobs.Wakeups(db.pool)
        app.state.suspended_domains = domain_blocks.SuspendedDomains(db.pool)
        app.state.signing_keys = KeyCache()  # peers' verified keys (federation/signed_requests.py)
        app.state.account_entities = AccountEntities()  # rendered authors of statuses (api/entities.py)
        # The heaviest reads queue here (api/read_slots.py), as long as a request may wait for a connection.
        app.state.read_slots = read_slots(settings.db_pool_max, wait=settings.db_acquire_timeout)
        # `serve` runs the background workers in-process; settings.workers = 0 leaves them to
        # separate `fediverse-biz worker` processes.
        stop_workers = asyncio.Event()
        workers: asyncio.Task[None] | None = None
        try:
            app.state.instance_actor = await accounts.ensure_instance_actor(
                db.pool, app.state.urls, settings.hostname
            )
            await app.state.streaming.start(db.dsn)
            workers = asyncio.create_task(run_workers(db.pool, http, settings, stop_workers, yield_to=load.busy))
            yield
        finally:
            stop_workers.set()
            if workers is not None:
                await workers
            await app.state.job_wakeups.close()
            await app.state.streaming.stop()
            await http.close()
            if database is None:
                await db.close()

    load = WebLoad()
    return Starlette(
        routes=all_routes(),
        middleware=[
            Middleware(RequestLog),
            Middleware(CountRequests, load=load),
            Middleware(DatabaseUnavailable),
            Middleware(RateLimit, settings=settings),
            Middleware(BodyReadTimeout, idle_seconds=settings.body_timeout),
            Middleware(BodySizeLimit, max_bytes=settings.max_request_bytes),
        ],
        exception_handlers={
            HTTPException: http_error,
            **api_exception_handlers,
            BadPageInput: bad_input_page,  # a page's filter or form the text rule refuses: its 400 page
            DomainError: domain_error,
            ClientDisconnect: client_disconnected,
            Exception: server_error,
        },
        lifespan=lifespan,
    )
