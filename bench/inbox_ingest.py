"""Benchmark 1, inbox ingest: signed Create(Note) deliveries from distinct simulated remote actors to the
shared inbox at high concurrency.

Set-up: each actor delivers once (the server fetches its actor document and key from the peers process
and caches them — the cold path, reported on its own), then alice follows them all, so every timed Create
is relevant and lands in her home feed. The timed requests are signed before timing (signing is the
sender's cost); the server verifies each one.

Figures: accepted/s (202s), fully processed/s (inbox_activities.processed_at set without error, the
status stored and fanned out), p50/p99 of the POST. Ceiling: the same requests against the bare
Starlette + asyncpg endpoint that parses the JSON and inserts one row (bench/ceilings.py).
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from datetime import UTC, datetime
from typing import Any

from fediverse_biz.activitypub.keys import generate_key_pair
from fediverse_biz.activitypub.signatures import sign_request

from ._context import Context, Goal, Result, curve, ratio
from ._load import Req, drive, session_for, summary
from .peers import ActorSpec

AS2 = "application/activity+json"
PUBLIC = "https://www.w3.org/ns/activitystreams#Public"
PROCESSED_GOAL = 1000.0  # fully processed activities per second on 2 cores
ACCEPTED_GOAL = 0.5  # x ceiling


def make_keys(count: int) -> list[tuple[str, str]]:
    """One RSA-2048 key pair per simulated actor (~40 ms each: done once, before anything is timed)."""
    return [generate_key_pair() for _ in range(count)]


def actor_specs(keys: list[tuple[str, str]], hosts: int) -> list[ActorSpec]:
    return [ActorSpec(host=i % hosts, username=f"sender{i}", public_pem=public) for i, (_, public) in enumerate(keys)]


def _actor_uri(ctx: Context, index: int) -> str:
    return f"{ctx.peers.actor_base(index % ctx.sizes.inbox_actor_hosts)}/users/sender{index}"


def create_activity(actor_uri: str, note_id: str, text: str, *, extra_cc: list[str] | None = None) -> dict[str, Any]:
    published = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    cc = [f"{actor_uri}/followers", *(extra_cc or [])]
    note = {
        "id": note_id,
        "type": "Note",
        "attributedTo": actor_uri,
        "content": f"<p>{text}</p>",
        "published": published,
        "url": note_id,
        "to": [PUBLIC],
        "cc": cc,
        "tag": [],
    }
    return {
        "@context": "https://www.w3.org/ns/activitystreams",
        "id": f"{note_id}/activity",
        "type": "Create",
        "actor": actor_uri,
        "published": published,
        "to": [PUBLIC],
        "cc": cc,
        "object": note,
    }


def signed_delivery(url: str, actor_uri: str, private_pem: str, activity: dict[str, Any]) -> Req:
    body = json.dumps(activity).encode()
    headers = sign_request(
        "POST", url, key_id=f"{actor_uri}#main-key", private_key_pem=private_pem, body=body,
        headers={"Content-Type": AS2},
    )
    return Req("POST", url, body, headers)


async def _batch_progress(ctx: Context, watermark: int) -> dict[str, Any]:
    row = await ctx.pool.fetchrow(
        """SELECT count(*) AS stored,
                  count(*) FILTER (WHERE processed_at IS NOT NULL AND error IS NULL) AS ok,
                  count(*) FILTER (WHERE error IS NOT NULL) AS failed,
                  min(received_at) AS first_received, max(received_at) AS last_received,
                  max(processed_at) AS last_processed
             FROM inbox_activities WHERE id > $1""",
        watermark,
    )
    return dict(row)


async def _wait_processed(ctx: Context, watermark: int, expected: int, limit_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        progress = await _batch_progress(ctx, watermark)
        if progress["ok"] + progress["failed"] >= expected or time.monotonic() > deadline:
            return progress
        # The span is read from processed_at, not from when this loop notices: polling often would only
        # add its own scans of inbox_activities to the PostgreSQL CPU the benchmark reports.
        await asyncio.sleep(0.5)


async def _warm_up(ctx: Context, inbox_url: str) -> dict[str, Any]:
    """Each actor's first delivery: the server fetches and stores its actor document and key."""
    watermark = await ctx.pool.fetchval("SELECT coalesce(max(id), 0) FROM inbox_activities")
    alice_uri = await ctx.pool.fetchval("SELECT uri FROM actors WHERE id = $1", ctx.alice.actor_id)
    tag = uuid.uuid4().hex[:8]
    requests = []
    for i, (private_pem, _) in enumerate(ctx.inbox_keys):
        actor = _actor_uri(ctx, i)
        # Addressed to alice, so the post concerns someone here before anyone follows the sender.
        activity = create_activity(actor, f"{actor}/statuses/warm-{tag}", "hello", extra_cc=[alice_uri])
        requests.append(signed_delivery(inbox_url, actor, private_pem, activity))
    async with session_for(16) as session:
        result = await drive(session, lambda i: requests[i], concurrency=16, count=len(requests), limit_s=120)
    progress = await _wait_processed(ctx, watermark, result.ok, 60)
    await ctx.pool.execute(
        """INSERT INTO follows (actor_id, target_actor_id)
           SELECT $1, id FROM actors WHERE uri = ANY($2::text[]) ON CONFLICT DO NOTHING""",
        ctx.alice.actor_id,
        [_actor_uri(ctx, i) for i in range(len(ctx.inbox_keys))],
    )
    followed = await ctx.pool.fetchval("SELECT count(*) FROM follows WHERE actor_id = $1", ctx.alice.actor_id)
    return {
        "cold_deliveries": summary(result),
        "cold_processed_ok": progress["ok"],
        "actors_followed_by_reader": followed,
    }


async def run(ctx: Context) -> Result:
    s = ctx.sizes
    inbox_url = f"{ctx.server.base_url}/inbox"
    warm = await _warm_up(ctx, inbox_url)

    tag = uuid.uuid4().hex[:8]
    began = time.perf_counter()
    activities: list[tuple[str, dict[str, Any]]] = []
    for n in range(s.inbox_deliveries):
        i = n % len(ctx.inbox_keys)
        actor = _actor_uri(ctx, i)
        activities.append((actor, create_activity(actor, f"{actor}/statuses/{tag}-{n}", f"Benchmark note {n}")))
    server_requests = [
        signed_delivery(inbox_url, actor, ctx.inbox_keys[n % len(ctx.inbox_keys)][0], activity)
        for n, (actor, activity) in enumerate(activities)
    ]
    presign_s = time.perf_counter() - began
    ceiling_requests = [Req("POST", f"{ctx.ceiling_url}/inbox", r.body, r.headers) for r in server_requests]

    # The ceiling first: the server keeps processing its backlog after the last 202.
    cpu = ctx.cpu()
    async with session_for(s.inbox_concurrency) as session:
        ceiling = await drive(
            session, lambda i: ceiling_requests[i], concurrency=s.inbox_concurrency, count=len(ceiling_requests)
        )
    ceiling_cpu = ctx.cpu().since(cpu)
    watermark = await ctx.pool.fetchval("SELECT coalesce(max(id), 0) FROM inbox_activities")
    cpu = ctx.cpu()
    async with session_for(s.inbox_concurrency) as session:
        server = await drive(
            session, lambda i: server_requests[i], concurrency=s.inbox_concurrency, count=len(server_requests)
        )
    accept_cpu = ctx.cpu().since(cpu)
    accepted_done = time.monotonic()
    progress = await _wait_processed(ctx, watermark, server.ok, s.inbox_drain_timeout)
    drain_s = time.monotonic() - accepted_done
    total_cpu = ctx.cpu().since(cpu)
    statuses = await ctx.pool.fetchval(
        "SELECT count(*) FROM statuses WHERE uri = ANY($1::text[])", [a["object"]["id"] for _, a in activities]
    )
    in_feed = await ctx.pool.fetchval(
        """SELECT count(*) FROM home_feed h JOIN statuses s ON s.id = h.status_id
            WHERE h.actor_id = $1 AND s.uri = ANY($2::text[])""",
        ctx.alice.actor_id,
        [a["object"]["id"] for _, a in activities],
    )
    if progress["first_received"] is not None and progress["last_processed"] is not None:
        span = (progress["last_processed"] - progress["first_received"]).total_seconds()
    else:
        span = 0.0
    processed_per_s = progress["ok"] / span if span > 0 else 0.0
    drained = progress["ok"] + progress["failed"] >= server.ok

    accepted_ratio = ratio(server.rate, ceiling.rate)
    result = Result(
        name="inbox_ingest",
        title="Inbox ingest (signed Create(Note), shared inbox)",
        figure=round(server.rate, 1),
        unit="accepted/s",
        ceiling=round(ceiling.rate, 1),
        ratio=accepted_ratio,
        ratio_meaning="accepted/s ÷ ceiling's inserts/s (higher is better)",
        goals=[
            Goal(
                f"accepted/s ≥ {ACCEPTED_GOAL} x ceiling",
                accepted_ratio >= ACCEPTED_GOAL,
                f"{accepted_ratio:.2f} x ceiling ({server.rate:.0f} vs {ceiling.rate:.0f}/s)",
            ),
            Goal(
                f"processed/s ≥ {PROCESSED_GOAL:,.0f}",
                processed_per_s >= PROCESSED_GOAL,
                f"{processed_per_s:,.0f}/s" + ("" if drained else " (backlog not drained before the timeout)"),
            ),
        ],
        metrics={
            "actors": len(ctx.inbox_keys),
            "actor_hosts": s.inbox_actor_hosts,
            "deliveries": s.inbox_deliveries,
            "concurrency": s.inbox_concurrency,
            "presign_s": round(presign_s, 2),
            "server": summary(server),
            "ceiling": summary(ceiling),
            "processed_ok": progress["ok"],
            "processed_failed": progress["failed"],
            "processed_per_s": round(processed_per_s, 1),
            "processing_span_s": round(span, 2),
            "drain_after_last_202_s": round(drain_s, 2),
            "drained": drained,
            "statuses_created": statuses,
            "home_feed_rows_for_reader": in_feed,
            "cold_path": warm,
            "cpu_ceiling_run": ceiling_cpu,
            "cpu_server_accepting": accept_cpu,
            "cpu_server_accept_and_drain": total_cpu,
            "server_cpu_ms_per_activity": round(1000 * total_cpu["server_cpu_s"] / max(progress["ok"], 1), 2),
            "postgres_cpu_ms_per_activity": round(1000 * total_cpu["postgres_cpu_s"] / max(progress["ok"], 1), 2),
        },
        curves={"server": curve(server.latencies), "ceiling": curve(ceiling.latencies)},
    )
    if server.ok != s.inbox_deliveries:
        result.notes.append(f"{s.inbox_deliveries - server.ok} deliveries were not accepted: {server.errors[:2]}")
    return result
