"""Benchmark 4, posting: `POST /api/v1/statuses` by an author with 1,000 local followers, so every post
writes 1,001 home-feed rows in its transaction (fan-out on write), from a few concurrent clients.

Ceiling: the bare endpoint inserting one status and its follower home-feed rows with one INSERT … SELECT
in one transaction (bench/ceilings.py), driven the same way.
"""

from __future__ import annotations

import json
import time
from typing import Any

from fediverse_biz.activitypub.keys import generate_key_pair

from ._context import Context, Result, curve, ratio
from ._load import Req, drive, session_for, summary
from ._seed import copy_local_actors, past_ids

FALLBACK_FOLLOWERS = 300  # under the NOTIFY payload cap (see the note a failed run gets)


async def seed_followers(ctx: Context) -> dict[str, Any]:
    count = ctx.sizes.posting_followers
    began = time.perf_counter()
    ids = past_ids(count, days_ago=500)
    await copy_local_actors(ctx.pool, ctx.server.base_url, ids, "member", generate_key_pair())
    await ctx.pool.copy_records_to_table(
        "follows", records=[(i, ctx.alice.actor_id) for i in ids], columns=["actor_id", "target_actor_id"]
    )
    await ctx.pool.execute("ANALYZE actors; ANALYZE follows")
    return {"local_followers": count, "seed_s": round(time.perf_counter() - began, 2), "sample_follower": ids[0],
            "follower_ids": ids}


async def _fewer_followers(ctx: Context, ids: list[int], keep: int) -> dict[str, Any]:
    """Posting again with only `keep` local followers, when every post failed at the full size."""
    await ctx.pool.execute(
        "DELETE FROM follows WHERE target_actor_id = $1 AND actor_id = ANY($2::bigint[])",
        ctx.alice.actor_id,
        ids[keep:],
    )
    s = ctx.sizes
    cpu = ctx.cpu()
    async with session_for(s.posting_clients) as session:
        server = await drive(
            session, _post(f"{ctx.server.base_url}/api/v1/statuses", ctx.alice.auth), concurrency=s.posting_clients,
            duration=s.posting_seconds,
        )
    return {"local_followers": keep, "server": summary(server), "cpu_server_run": ctx.cpu().since(cpu),
            "curve": curve(server.latencies)}


def _post(url: str, headers: dict[str, str]) -> Any:
    def make(i: int) -> Req:
        body = json.dumps({"status": f"Posting benchmark {i}: we are hiring a logistics planner.",
                           "visibility": "public"}).encode()
        return Req("POST", url, body, {**headers, "Content-Type": "application/json"})

    return make


async def run(ctx: Context) -> Result:
    s = ctx.sizes
    seeded = await seed_followers(ctx)
    cpu = ctx.cpu()
    async with session_for(s.posting_clients) as session:
        ceiling = await drive(
            session, _post(f"{ctx.ceiling_url}/statuses", {}), concurrency=s.posting_clients,
            duration=s.posting_seconds,
        )
    ceiling_cpu = ctx.cpu().since(cpu)
    before = await ctx.pool.fetchval("SELECT count(*) FROM home_feed WHERE actor_id = $1", seeded["sample_follower"])
    cpu = ctx.cpu()
    async with session_for(s.posting_clients) as session:
        server = await drive(
            session, _post(f"{ctx.server.base_url}/api/v1/statuses", ctx.alice.auth), concurrency=s.posting_clients,
            duration=s.posting_seconds,
        )
    server_cpu = ctx.cpu().since(cpu)
    after = await ctx.pool.fetchval("SELECT count(*) FROM home_feed WHERE actor_id = $1", seeded["sample_follower"])
    failures = ctx.server.log_tail(100_000).count("payload string too long")
    fallback = None
    if server.ok == 0 and s.posting_followers > FALLBACK_FOLLOWERS:
        fallback = await _fewer_followers(ctx, seeded["follower_ids"], FALLBACK_FOLLOWERS)
    result = Result(
        name="posting",
        title=f"Posting ({s.posting_followers:,} local followers, {s.posting_clients} clients)",
        figure=round(server.rate, 1),
        unit="posts/s",
        ceiling=round(ceiling.rate, 1),
        ratio=ratio(server.rate, ceiling.rate),
        ratio_meaning="posts/s ÷ ceiling's posts/s (higher is better)",
        goals=[],
        metrics={
            **{k: v for k, v in seeded.items() if k not in ("sample_follower", "follower_ids")},
            "clients": s.posting_clients,
            "server": summary(server),
            "ceiling": summary(ceiling),
            "follower_feed_rows_added": after - before,
            "cpu_server_run": server_cpu,
            "cpu_ceiling_run": ceiling_cpu,
            # per request answered, failed ones included: they cost until their rollback
            "server_cpu_ms_per_request": round(1000 * server_cpu["server_cpu_s"] / max(server.sent, 1), 2),
            "postgres_cpu_ms_per_request": round(1000 * server_cpu["postgres_cpu_s"] / max(server.sent, 1), 2),
        },
        curves={"server": curve(server.latencies), "ceiling": curve(ceiling.latencies)},
        notes=["No goal is set for posting; the figure and ratio are reported."],
    )
    if server.ok != after - before:
        result.notes.append(f"{server.ok} posts answered 2xx but a follower's feed grew by {after - before}")
    if server.ok < server.sent:
        result.notes.append(f"{server.sent - server.ok} of {server.sent} posts failed: {server.errors[:2]}")
    if failures:
        result.notes.append(
            f"the server log has {failures} 'payload string too long' errors: the streaming event NOTIFY carries "
            "every home-feed reader's id (core/events.py status_created), and PostgreSQL caps NOTIFY payloads "
            "at 8000 bytes, so a post whose author has more than ~370 local followers fails with 500"
        )
    if fallback is not None:
        result.curves[f"server, {FALLBACK_FOLLOWERS} followers"] = fallback.pop("curve")
        result.metrics[f"retry_with_{FALLBACK_FOLLOWERS}_followers"] = fallback
        result.notes.append(
            f"with {FALLBACK_FOLLOWERS} local followers instead: {fallback['server']['rate_per_s']} posts/s, "
            f"p50 {fallback['server']['p50_ms']} ms, p99 {fallback['server']['p99_ms']} ms"
        )
    return result
