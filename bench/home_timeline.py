"""Benchmark 3, home timeline: `GET /api/v1/timelines/home?limit=40` at 32 concurrent clients over a
database seeded with COPY — by default 1,000,000 statuses from 10,000 remote accounts, the reader
following 500 of them, with the reader's home_feed rows as fan-out on write would have made them.

One request in five reads the first page; the others page with `max_id` to a random point of the
reader's feed, as deep as it goes. A sequential walk down the feed checks the pages are right.
Ceiling: the bare endpoint returning the same 40 rows by index (bench/ceilings.py), driven the same way.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

from ._context import Context, Goal, Result, curve, ratio
from ._load import Req, drive, keepalive_probe, session_for, summary
from ._seed import DAY_MS, RemoteActorRow, copy_remote_actors, id_at_ms, moment_of, past_ids

LIMIT = 40
RATIO_GOAL = 0.4
P99_GOAL_MS = 50.0
FIRST_PAGE_SHARE = 0.2
ACCOUNTS_PER_DOMAIN = 100
SEED_GOAL_S = 120.0


def _domain(k: int) -> str:
    # .invalid never resolves (RFC 2606): these accounts are only ever read, never contacted.
    return f"tl-{k // ACCOUNTS_PER_DOMAIN}.bench.invalid"


async def seed(ctx: Context) -> tuple[list[int], dict[str, Any]]:
    """Seed accounts, statuses, follows and the reader's feed; returns the feed ids, newest first."""
    s = ctx.sizes
    began = time.perf_counter()
    account_ids = past_ids(s.timeline_accounts, days_ago=300)
    await copy_remote_actors(
        ctx.pool,
        (RemoteActorRow(i, f"acct{k}", _domain(k), f"https://{_domain(k)}") for k, i in enumerate(account_ids)),
    )
    accounts_s = time.perf_counter() - began

    every = max(1, s.timeline_accounts // s.timeline_follows)
    followed = set(range(0, s.timeline_accounts, every)[: s.timeline_follows])
    step = max(1, 30 * DAY_MS // s.timeline_statuses)  # a month of posts, ending a day ago
    start_ms = int(time.time() * 1000) - 31 * DAY_MS
    feed: list[int] = []

    def statuses() -> Iterator[tuple[Any, ...]]:
        for i in range(s.timeline_statuses):
            k = i % s.timeline_accounts
            status_id = id_at_ms(start_ms + i * step, i)
            if k in followed:
                feed.append(status_id)
            uri = f"https://{_domain(k)}/users/acct{k}/statuses/{i}"
            published = moment_of(status_id)
            yield (
                status_id, uri, uri, account_ids[k], False, "Note", "public",
                f"<p>Status {i} from acct{k}: quarterly figures, a new hire and an open call for suppliers.</p>",
                published, published,
            )

    # A bulk load goes around the counter triggers (one deferred call per status would be a million) and
    # recounts once at the end, as migration 0008 says bulk loaders should; the recount is in the seed time.
    async with ctx.pool.acquire() as conn, conn.transaction():
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.copy_records_to_table(
            "statuses",
            records=statuses(),
            columns=["id", "uri", "url", "actor_id", "local", "object_type", "visibility", "content",
                     "published_at", "created_at"],
        )
        statuses_s = time.perf_counter() - began - accounts_s
        await conn.copy_records_to_table(
            "follows",
            records=[(ctx.reader.actor_id, account_ids[k]) for k in sorted(followed)],
            columns=["actor_id", "target_actor_id"],
        )
        await conn.copy_records_to_table(
            "home_feed", records=[(ctx.reader.actor_id, i) for i in feed], columns=["actor_id", "status_id"]
        )
    await ctx.pool.execute("SELECT actor_stats_recount()")
    await ctx.pool.execute("ANALYZE actors; ANALYZE statuses; ANALYZE follows; ANALYZE home_feed")
    seed_s = time.perf_counter() - began
    feed.sort(reverse=True)
    return feed, {
        "statuses": s.timeline_statuses,
        "accounts": s.timeline_accounts,
        "followed": len(followed),
        "feed_rows": len(feed),
        "seed_s": round(seed_s, 1),
        "seed_accounts_s": round(accounts_s, 1),
        "seed_statuses_s": round(statuses_s, 1),
        "seed_rows_per_s": round(s.timeline_statuses / statuses_s) if statuses_s > 0 else 0,
    }


async def _walk(ctx: Context, feed: list[int], pages: int) -> dict[str, Any]:
    """Page down the feed with max_id as a client does; every page must be the next 40 of the feed."""
    url = f"{ctx.server.base_url}/api/v1/timelines/home"
    max_id: int | None = None
    correct = 0
    began = time.perf_counter()
    for page in range(pages):
        params = {"limit": str(LIMIT), **({"max_id": str(max_id)} if max_id else {})}
        async with ctx.http.get(url, params=params, headers=ctx.reader.auth) as resp:
            items = await resp.json() if resp.status == 200 else []
        ids = [int(item["id"]) for item in items]
        if ids == feed[page * LIMIT : (page + 1) * LIMIT]:
            correct += 1
        if not ids:
            break
        max_id = ids[-1]
    return {"pages": pages, "pages_correct": correct, "walk_s": round(time.perf_counter() - began, 2)}


def _requests(feed: list[int], make_url: Any, headers: dict[str, str], seed: int) -> Any:
    rng = random.Random(seed)

    def make(i: int) -> Req:
        if rng.random() < FIRST_PAGE_SHARE or len(feed) <= LIMIT:
            return Req("GET", make_url(None), headers=headers, tag="first page")
        return Req("GET", make_url(rng.choice(feed[LIMIT:])), headers=headers, tag="deep page")

    return make


async def run(ctx: Context) -> Result:
    s = ctx.sizes
    feed, seeded = await seed(ctx)
    walk = await _walk(ctx, feed, s.timeline_walk_pages)
    probe = {
        "server_healthz": await keepalive_probe(f"{ctx.server.base_url}/healthz"),
        "ceiling_healthz": await keepalive_probe(f"{ctx.ceiling_url}/healthz"),
    }

    def server_url(max_id: int | None) -> str:
        url = f"{ctx.server.base_url}/api/v1/timelines/home?limit={LIMIT}"
        return f"{url}&max_id={max_id}" if max_id else url

    def ceiling_url(max_id: int | None) -> str:
        url = f"{ctx.ceiling_url}/timeline?actor_id={ctx.reader.actor_id}"
        return f"{url}&max_id={max_id}" if max_id else url

    cpu = ctx.cpu()
    async with session_for(s.timeline_clients) as session:
        ceiling = await drive(
            session, _requests(feed, ceiling_url, {}, 7), concurrency=s.timeline_clients, duration=s.timeline_seconds
        )
    ceiling_cpu = ctx.cpu().since(cpu)
    cpu = ctx.cpu()
    async with session_for(s.timeline_clients) as session:
        server = await drive(
            session, _requests(feed, server_url, ctx.reader.auth, 7), concurrency=s.timeline_clients,
            duration=s.timeline_seconds,
        )
    server_cpu = ctx.cpu().since(cpu)
    rate_ratio = ratio(server.rate, ceiling.rate)
    p99 = server.pct_ms(99)
    result = Result(
        name="home_timeline",
        title=f"Home timeline ({s.timeline_statuses:,} statuses, {s.timeline_clients} clients)",
        figure=round(server.rate, 1),
        unit="req/s",
        ceiling=round(ceiling.rate, 1),
        ratio=rate_ratio,
        ratio_meaning="req/s ÷ ceiling's req/s (higher is better)",
        goals=[
            Goal(f"req/s ≥ {RATIO_GOAL} x ceiling", rate_ratio >= RATIO_GOAL,
                 f"{rate_ratio:.2f} x ceiling ({server.rate:.0f} vs {ceiling.rate:.0f} req/s)"),
            Goal(f"p99 ≤ {P99_GOAL_MS:g} ms", server.ok > 0 and p99 <= P99_GOAL_MS, f"p99 {p99:.1f} ms"),
            Goal(f"seeded with COPY in < {SEED_GOAL_S:g} s", seeded["seed_s"] < SEED_GOAL_S,
                 f"{seeded['seed_s']:.0f} s for {seeded['statuses']:,} statuses"),
        ],
        metrics={
            **seeded,
            **walk,
            "keepalive_round_trip": probe,
            "clients": s.timeline_clients,
            "server": summary(server),
            "server_first_page_p50_ms": server.pct_ms(50, "first page"),
            "server_first_page_p99_ms": server.pct_ms(99, "first page"),
            "server_deep_page_p50_ms": server.pct_ms(50, "deep page"),
            "server_deep_page_p99_ms": server.pct_ms(99, "deep page"),
            "ceiling": summary(ceiling),
            "cpu_server_run": server_cpu,
            "cpu_ceiling_run": ceiling_cpu,
            "server_cpu_ms_per_request": round(1000 * server_cpu["server_cpu_s"] / max(server.ok, 1), 2),
            "postgres_cpu_ms_per_request": round(1000 * server_cpu["postgres_cpu_s"] / max(server.ok, 1), 2),
            "ceiling_app_cpu_ms_per_request": round(1000 * ceiling_cpu["ceiling_app_cpu_s"] / max(ceiling.ok, 1), 2),
        },
        curves={"server": curve(server.latencies), "ceiling": curve(ceiling.latencies)},
    )
    if walk["pages_correct"] != walk["pages"]:
        result.notes.append(f"paging walk: only {walk['pages_correct']} of {walk['pages']} pages were as expected")
    return result
