"""The asyncpg pool: sized from Settings, with JSON codecs so jsonb columns read as Python values."""

from __future__ import annotations

import json
from typing import Any

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for type_name in ("json", "jsonb"):
        await conn.set_type_codec(
            type_name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog"
        )


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
        # A statement that runs this long is a bug or a lock pile-up: fail it instead of hanging a request.
        server_settings={"statement_timeout": "30000", "application_name": "fediverse_biz"},
        **kwargs,
    )
    assert pool is not None
    return pool
