"""create_app(settings) -> Starlette: the lifespan owns the database pool and the one HTTP client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import aiohttp
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz import __version__, assembly
from fediverse_biz.api.entities import AccountEntities
from fediverse_biz.api.errors import exception_handlers as api_exception_handlers
from fediverse_biz.api.routes import routes as api_routes
from fediverse_biz.api.streaming_hub import StreamingHub
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, domain_blocks
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.instance_facts import InstanceFactsCache
from fediverse_biz.db.database import Database, open_database
from fediverse_biz.db.pool import ping
from fediverse_biz.db.read_slots import read_slots
from fediverse_biz.federation import actor_endpoints, fetch_reach
from fediverse_biz.federation.actor_endpoints import prefers_activity_json
from fediverse_biz.federation.routes import routes as federation_routes
from fediverse_biz.federation.signed_requests import KeyCache
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.worker import run_workers
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.middleware import (
    BodyReadTimeout,
    BodySizeLimit,
    CountRequests,
    DatabaseUnavailable,
    RequestLog,
    WebLoad,
    wants_json,
)
from fediverse_biz.net.fetch import create_session
from fediverse_biz.ratelimit import RateLimit
from fediverse_biz.services import Services, services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web import community_pages
from fediverse_biz.web.inputs import BadPageInput
from fediverse_biz.web.rendering import bad_input_page
from fediverse_biz.web.routes import routes as web_routes

log = logging.getLogger(__name__)

USER_AGENT = f"fediverse_biz/{__version__}"


async def healthz(request: Request) -> Response:
    # Bounded by its own short timeout, not the statement bound every query gets: a load balancer asking
    # must hear "down" while the database is frozen, not wait as long as it stays frozen.
    try:
        await ping(services(request).pool)
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


async def hall(request: Request) -> Response:
    """`/c/{name}` is a hall's ActivityPub id and its page: the one place that decides which one a request
    gets. AS2 clients get the Group document, browsers the page and feed readers `/c/{name}.atom` (the
    path parameter takes "name.atom" too)."""
    if prefers_activity_json(request.headers.get("accept")):
        return await actor_endpoints.show_group(request)
    return await community_pages.group_html(request)


def all_routes() -> list[BaseRoute]:
    return [
        Route("/healthz", healthz, methods=["GET", "HEAD"]),
        Route("/c/{username}", hall, methods=["GET", "HEAD"]),
        *federation_routes(),
        *api_routes(),
        *web_routes(),
    ]


def build_services(settings: Settings, db: Database, http: aiohttp.ClientSession) -> Services:
    """Everything the handlers use, for one application; installs the extension points as well."""
    urls = LocalUrls(settings.base_url)
    return Services(
        settings=settings,
        db=db,
        urls=urls,
        http=http,
        hooks=assembly.install_hooks(),
        job_wakeups=queue.Wakeups(db.pool),
        suspended_domains=domain_blocks.SuspendedDomains(db.pool),
        streaming=StreamingHub(db.pool, urls),
        account_entities=AccountEntities(),
        read_slots=read_slots(settings.db_pool_max, wait=settings.db_acquire_timeout),
        instance_facts=InstanceFactsCache(db.pool),
        signing_keys=KeyCache(),
        fetchers_seen=fetch_reach.seen_fetchers(),
    )


def create_app(settings: Settings, database: Database | None = None) -> Starlette:
    """The ASGI application. Pass `database` to reuse an open one (tests); otherwise the lifespan
    opens the configured database (starting the embedded cluster if needed) and closes it."""

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = database if database is not None else await open_database(settings, own_embedded=True)
        http = create_session(settings.allow_private_addresses, user_agent=USER_AGENT)
        state = build_services(settings, db, http)
        app.state.services = state
        # `serve` runs the background workers in-process; settings.workers = 0 leaves them to
        # separate `fediverse-biz worker` processes.
        stop_workers = asyncio.Event()
        workers: asyncio.Task[None] | None = None
        try:
            state.instance_actor = await accounts.ensure_instance_actor(db.pool, state.urls, settings.hostname)
            await state.streaming.start(db.dsn)
            workers = asyncio.create_task(
                run_workers(db.pool, http, settings, stop_workers, handlers=assembly.job_handlers(), yield_to=load.busy)
            )
            yield
        finally:
            stop_workers.set()
            if workers is not None:
                await workers
            await state.job_wakeups.close()
            await state.streaming.stop()
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
