"""The asyncpg pool: sized from Settings, with JSON codecs so jsonb columns read as Python values."""

from __future__ import annotations

from typing import Any

import asyncpg

from .. import jsonio


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


# Bounds on waiting for the database, so a request never hangs on it (tests/reliability/test_faults.py):
# connecting gives up after CONNECT_TIMEOUT (asyncpg's default is 60 s, past any client's patience), and a
# query whose server stopped answering — a dead TCP peer, which statement_timeout cannot end — after
# COMMAND_TIMEOUT. Holders thus release within seconds, which bounds every pool.acquire() wait too.
CONNECT_TIMEOUT = 10.0
COMMAND_TIMEOUT = 35.0  # just over statement_timeout: the server's own timeout, with its clear error, comes first


async def create_pool(
    dsn: str, *, min_size: int, max_size: int, command_timeout: float | None = COMMAND_TIMEOUT, **kwargs: Any
) -> asyncpg.Pool:
    """`command_timeout=None` for a pool that runs long statements on purpose (bulk loads)."""
    kwargs.setdefault("timeout", CONNECT_TIMEOUT)
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        command_timeout=command_timeout,
        init=_init_connection,
        reset=_keep_session,
        # A statement that runs this long is a bug or a lock pile-up: fail it instead of hanging a request.
        server_settings={"statement_timeout": "30000", "application_name": "fediverse_biz"},
        **kwargs,
    )
    assert pool is not None
    return pool
