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


async def create_pool(dsn: str, *, min_size: int, max_size: int, **kwargs: Any) -> asyncpg.Pool:
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        # A statement that runs this long is a bug or a lock pile-up: fail it instead of hanging a request.
        server_settings={"statement_timeout": "30000", "application_name": "fediverse_biz"},
        **kwargs,
    )
    assert pool is not None
    return pool
