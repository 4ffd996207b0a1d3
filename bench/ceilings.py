"""The ceilings: the least a Starlette + asyncpg process can do for each benchmark's request, on the same
embedded PostgreSQL, run as its own uvicorn process and driven exactly like the server under test.

- `POST /inbox`: parse the JSON body and insert one row (the server also verifies a signature, checks
  origin and schema, dedupes, and enqueues a job).
- `GET /timeline?actor_id=&max_id=`: 40 rows of the materialised home feed by index, joined to their
  statuses, as JSON (the server also authenticates, and renders full Mastodon entities).
- `POST /statuses`: insert one status and its home-feed rows for every follower with one INSERT … SELECT,
  in one transaction (fan-out on write at its cheapest).

Its own tables live in a separate database (`--ceiling-dsn`); the timeline reads the server's seeded
database (`--app-dsn`) read-only.

    python -m bench.ceilings --port P --app-dsn DSN --ceiling-dsn DSN [--followers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

POOL_MAX = 10  # the server's default FEDIVERSE_BIZ_DB_POOL_MAX
TIMELINE_LIMIT = 40
AUTHOR_ID = 0  # the one author of ceiling posts
NO_MAX_ID = 2**63 - 1

SCHEMA = """
CREATE TABLE IF NOT EXISTS ceiling_inbox (
    id bigserial PRIMARY KEY,
    activity_id text NOT NULL UNIQUE,
    payload jsonb NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ceiling_follows (
    target_id bigint NOT NULL,
    follower_id bigint NOT NULL,
    PRIMARY KEY (target_id, follower_id)
);
CREATE TABLE IF NOT EXISTS ceiling_statuses (
    id bigserial PRIMARY KEY,
    author_id bigint NOT NULL,
    content text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS ceiling_home_feed (
    actor_id bigint NOT NULL,
    status_id bigint NOT NULL,
    PRIMARY KEY (actor_id, status_id)
);
"""

# The page's ids first, by the home_feed primary key, then their statuses by theirs: written as one join,
# the planner may instead walk statuses backwards by id and probe the feed (150 ms on the seeded database).
TIMELINE_SQL = """
SELECT s.id, s.uri, s.url, s.content, s.published_at, s.actor_id
  FROM (SELECT status_id FROM home_feed WHERE actor_id = $1 AND status_id < $2
         ORDER BY status_id DESC LIMIT $3) h
  JOIN statuses s ON s.id = h.status_id
 ORDER BY s.id DESC
"""


async def healthz(request: Request) -> Response:
    return PlainTextResponse("ok")


async def inbox(request: Request) -> Response:
    doc = json.loads(await request.body())
    await request.app.state.ceiling.execute(
        """INSERT INTO ceiling_inbox (activity_id, payload) VALUES ($1, $2::text::jsonb)
           ON CONFLICT (activity_id) DO NOTHING""",
        str(doc.get("id")),
        json.dumps(doc),
    )
    return Response(status_code=202)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


async def timeline(request: Request) -> Response:
    actor_id = int(request.query_params["actor_id"])
    max_id = int(request.query_params.get("max_id") or NO_MAX_ID)
    rows = await request.app.state.app.fetch(TIMELINE_SQL, actor_id, max_id, TIMELINE_LIMIT)
    return JSONResponse(
        [
            {
                "id": str(r["id"]),
                "uri": r["uri"],
                "url": r["url"],
                "content": r["content"],
                "created_at": _iso(r["published_at"]),
                "account_id": str(r["actor_id"]),
            }
            for r in rows
        ]
    )


async def post_status(request: Request) -> Response:
    text = str((await request.json()).get("status", ""))
    async with request.app.state.ceiling.acquire() as conn, conn.transaction():
        status_id = await conn.fetchval(
            "INSERT INTO ceiling_statuses (author_id, content) VALUES ($1, $2) RETURNING id", AUTHOR_ID, text
        )
        await conn.execute(
            """INSERT INTO ceiling_home_feed (actor_id, status_id)
               SELECT follower_id, $1::bigint FROM ceiling_follows WHERE target_id = $2::bigint
               UNION ALL SELECT $2::bigint, $1::bigint""",
            status_id,
            AUTHOR_ID,
        )
    return JSONResponse({"id": str(status_id), "content": text})


def create_app(app_dsn: str, ceiling_dsn: str, followers: int) -> Starlette:
    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.app = await asyncpg.create_pool(app_dsn, min_size=2, max_size=POOL_MAX)
        app.state.ceiling = await asyncpg.create_pool(ceiling_dsn, min_size=2, max_size=POOL_MAX)
        async with app.state.ceiling.acquire() as conn:
            await conn.execute(SCHEMA)
            await conn.execute(
                """INSERT INTO ceiling_follows (target_id, follower_id)
                   SELECT $1, g FROM generate_series(1, $2::int) g ON CONFLICT DO NOTHING""",
                AUTHOR_ID,
                followers,
            )
        try:
            yield
        finally:
            await app.state.app.close()
            await app.state.ceiling.close()

    return Starlette(
        routes=[
            Route("/healthz", healthz, methods=["GET"]),
            Route("/inbox", inbox, methods=["POST"]),
            Route("/timeline", timeline, methods=["GET"]),
            Route("/statuses", post_status, methods=["POST"]),
        ],
        lifespan=lifespan,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--app-dsn", required=True)
    parser.add_argument("--ceiling-dsn", required=True)
    parser.add_argument("--followers", type=int, default=1000)
    args = parser.parse_args()
    # The same server stack as `fediverse-biz serve`: uvicorn picks uvloop and httptools when installed.
    uvicorn.run(
        create_app(args.app_dsn, args.ceiling_dsn, args.followers),
        host="127.0.0.1",
        port=args.port,
        log_level="warning",
        access_log=False,
        server_header=False,
    )


if __name__ == "__main__":
    main()
