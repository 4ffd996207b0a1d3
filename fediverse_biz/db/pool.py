"""The asyncpg pool: sized from Settings, with JSON codecs so jsonb columns read as Python values, and
every wait on the database bounded (docs/reliability.md, "Timeouts")."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from fediverse_biz import jsonio


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=jsonio.dumps, decoder=jsonio.loads, schema="pg_catalog"
        )


async def _keep_session(conn: asyncpg.Connection) -> None:
    """Released connections skip asyncpg's default reset query (advisory unlock, CLOSE ALL, UNLISTEN,
    RESET ALL): it is a second round trip for every pooled statement, which doubled the database work of
    a timeline page (docs/benchmarks.md). Nothing here leaves session state behind: settings are
    per-connection constants (server_settings below) or SET LOCAL, advisory locks are transaction-scoped
    (migrations, which take a session lock, unlock it themselves), LISTEN lives on dedicated connections
    that UNLISTEN before release, and asyncpg still rolls back any open transaction before this runs."""


# Bounds on waiting for the database, so a request never hangs on it (tests/reliability/test_faults.py).
# - STATEMENT_TIMEOUT: PostgreSQL's own statement_timeout; a statement that runs this long is a bug or a
#   lock pile-up, and the server ends it with a clear error.
# - COMMAND_MARGIN: the client gives up this much later (asyncpg's command_timeout). Only a server that
#   stopped answering gets there — a dead TCP peer, or a frozen one (processes stopped, a stalled VM),
#   whose statement_timeout cannot fire.
# - CANCEL_TIMEOUT: asyncpg then sends a cancel request and, before the connection can be released or
#   used again, waits for the server to acknowledge it — for up to command_timeout again. A server that
#   did not answer the statement will not answer that either: this doubled the wait (70 s observed with
#   a frozen PostgreSQL). BoundedConnection gives the acknowledgement this long, then drops the connection.
# - ACQUIRE_TIMEOUT: the longest wait for a free connection of the pool (asyncpg's default is forever;
#   while the server is frozen every holder is stuck for the full statement bound).
# - CONNECT_TIMEOUT: asyncpg's default is 60 s, past any client's patience.
# So one statement waits at most STATEMENT_TIMEOUT + COMMAND_MARGIN + CANCEL_TIMEOUT (35 s by default).
STATEMENT_TIMEOUT = 30.0
COMMAND_MARGIN = 3.0
CANCEL_TIMEOUT = 2.0
ACQUIRE_TIMEOUT = 5.0
CONNECT_TIMEOUT = 10.0
# The health check's bound (/healthz, and a worker waiting for the database to come back): a server that
# does not answer SELECT 1 within this is down for our purposes, however busy it may only be.
PING_TIMEOUT = 1.5


class BoundedConnection(asyncpg.Connection):
    """asyncpg's connection whose cancel requests give up after CANCEL_TIMEOUT and drop the connection.

    asyncpg cancels the running statement when its client-side timeout fires or the task awaiting it is
    cancelled, in a background task (`_cancel`) that the next use and the release of the connection wait
    for. Past the bound that task is stopped and the connection terminated: the server, if it ever wakes,
    finds the socket closed and rolls the statement back. asyncpg terminates the connection itself when a
    cancel request fails; this only shortens its wait, from command_timeout to CANCEL_TIMEOUT. It overrides
    a private method, so tests/reliability/test_faults.py (a statement on a frozen server) holds each asyncpg
    release to it."""

    async def _cancel(self, *args: Any, **kwargs: Any) -> None:
        bound = asyncio.timeout(CANCEL_TIMEOUT)
        try:
            async with bound:
                await super()._cancel(*args, **kwargs)  # swallows its own cancellation, ours included
        except TimeoutError:
            pass
        if bound.expired() and not self.is_closed():
            self.terminate()  # also completes the waits on the acknowledgement (asyncpg's abort())


class BoundedPool(asyncpg.Pool):
    """asyncpg's pool whose acquire() waits at most `acquire_timeout` unless told otherwise (asyncpg's own
    default is without end). Raises TimeoutError from inside asyncpg, which middleware.DatabaseUnavailable
    answers with a 503. A release waits as long as its acquire could (asyncpg's rule)."""

    __slots__ = ("_acquire_timeout",)

    def __init__(self, *args: Any, acquire_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._acquire_timeout = acquire_timeout

    def acquire(self, *, timeout: float | None = None) -> Any:
        return super().acquire(timeout=self._acquire_timeout if timeout is None else timeout)


async def create_pool(
    dsn: str,
    *,
    min_size: int,
    max_size: int,
    statement_timeout: float | None = STATEMENT_TIMEOUT,
    acquire_timeout: float = ACQUIRE_TIMEOUT,
    **kwargs: Any,
) -> asyncpg.Pool:
    """`statement_timeout=None` for a pool that runs long statements on purpose (bulk loads): neither the
    server nor the client then limits a statement's time."""
    kwargs.setdefault("timeout", CONNECT_TIMEOUT)
    server_settings = {"application_name": "fediverse_biz"}
    if statement_timeout is not None:
        server_settings["statement_timeout"] = str(int(statement_timeout * 1000))
    pool = BoundedPool(
        dsn,
        acquire_timeout=acquire_timeout,
        min_size=min_size,
        max_size=max_size,
        # asyncpg.create_pool's defaults for the two arguments Pool() requires and create_pool does not
        max_queries=50000,
        max_inactive_connection_lifetime=300.0,
        loop=None,
        connection_class=BoundedConnection,
        record_class=asyncpg.Record,
        command_timeout=None if statement_timeout is None else statement_timeout + COMMAND_MARGIN,
        init=_init_connection,
        reset=_keep_session,
        server_settings=server_settings,
        **kwargs,
    )
    await pool
    return pool


async def ping(pool: asyncpg.Pool, within: float = PING_TIMEOUT) -> None:
    """SELECT 1 within `within` seconds, every wait included (a free connection, connecting, the answer);
    raises TimeoutError or the connection's error otherwise. A connection that did not answer in time is
    dropped at once rather than cancelled: a cancel request waits for the server that is not answering."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    conn = await pool.acquire(timeout=within)
    try:
        await conn.fetchval("SELECT 1", timeout=max(deadline - loop.time(), 0.001))
    except BaseException:
        conn.terminate()
        raise
    finally:
        await pool.release(conn)
