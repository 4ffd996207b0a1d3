"""Benchmark 2, fan-out: an organization with many remote followers spread over many hosts posts once.

Set-up: followers are seeded with COPY as remote actors on the peers process's receiver ports (20 per
host by default), each host with a shared inbox, so the post must become exactly one signed request per
host. The receivers verify every signature with the organization's public key.

Figure: seconds from `POST /api/v1/statuses` being sent to the last delivery verified (the time after the
POST returned is reported too: workers start delivering as soon as the post commits, before the API has
rendered its answer, so that one can be ~0 or negative for a small fan-out). Also deliveries/s,
requests sent (must equal the distinct shared inboxes). Ceiling: the same requests — the exact body the
server sent — signed and POSTed by a bare aiohttp client with the server's connection limits, timed from
the first signature to the last verification.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from typing import Any

import aiohttp

from fediverse_biz.activitypub.signatures import sign_request

from ._context import Context, Goal, Result, curve, ratio
from ._seed import RemoteActorRow, copy_remote_actors, past_ids

AS2 = "application/activity+json"
GOAL_RATIO = 2.0  # server time <= 2 x ceiling time
CONNECTION_LIMIT, CONNECTION_LIMIT_PER_HOST = 100, 8  # net/fetch.py's client


async def seed_followers(ctx: Context) -> dict[str, Any]:
    s = ctx.sizes
    ports = ctx.peers.receivers[: s.fanout_hosts]
    began = time.perf_counter()
    ids = past_ids(s.fanout_followers, days_ago=400)
    rows = []
    for j in range(s.fanout_followers):
        port = ports[j % len(ports)]
        base = f"http://127.0.0.1:{port}"
        rows.append(RemoteActorRow(ids[j], f"follower{j}", f"127.0.0.1:{port}", base, shared_inbox=f"{base}/inbox"))
    await copy_remote_actors(ctx.pool, rows)
    await ctx.pool.copy_records_to_table(
        "follows", records=[(i, ctx.acme.actor_id) for i in ids], columns=["actor_id", "target_actor_id"]
    )
    await ctx.pool.execute("ANALYZE actors; ANALYZE follows")
    return {"followers": len(rows), "hosts": len(ports), "seed_s": round(time.perf_counter() - began, 2)}


async def _wait_verified(ctx: Context, expected: int, limit_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + limit_s
    while True:
        stats = await ctx.peers.stats()
        if stats["verified"] + stats["rejected"] >= expected or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.02)
    await asyncio.sleep(0.5)  # anything sent twice would arrive now
    return await ctx.peers.stats()


async def _ceiling(ctx: Context, body: bytes, inboxes: list[str], private_pem: str, key_id: str) -> dict[str, Any]:
    await ctx.peers.reset()
    connector = aiohttp.TCPConnector(limit=CONNECTION_LIMIT, limit_per_host=CONNECTION_LIMIT_PER_HOST)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as http:
        began = time.monotonic()
        signed = [
            sign_request("POST", url, key_id=key_id, private_key_pem=private_pem, body=body,
                         headers={"Content-Type": AS2})
            for url in inboxes
        ]
        signed_at = time.monotonic()

        async def post(url: str, headers: dict[str, str]) -> int:
            async with http.post(url, data=body, headers=headers) as resp:
                await resp.read()
                return resp.status

        statuses = await asyncio.gather(*(post(u, h) for u, h in zip(inboxes, signed, strict=True)))
    stats = await _wait_verified(ctx, len(inboxes), 30)
    last = max(stats["times"], default=began)
    return {
        "time_s": last - began,
        "sign_s": signed_at - began,
        "statuses": {str(code): statuses.count(code) for code in sorted(set(statuses))},
        "stats": stats,
        "latencies": [t - began for t in stats["times"]],
    }


async def run(ctx: Context) -> Result:
    s = ctx.sizes
    seeded = await seed_followers(ctx)
    key = await ctx.pool.fetchrow(
        "SELECT key_id, public_key_pem, private_key_pem FROM actors WHERE id = $1", ctx.acme.actor_id
    )
    await ctx.peers.trust({key["key_id"]: key["public_key_pem"]})
    await ctx.pool.execute("DELETE FROM jobs WHERE kind = 'deliver'")  # nothing queued from set-up
    expected = seeded["hosts"]

    # The server under test.
    await ctx.peers.reset()
    cpu = ctx.cpu()
    text = f"Fan-out benchmark {uuid.uuid4().hex[:8]}: our new product line is out."
    posted_at = time.monotonic()
    async with ctx.http.post(
        f"{ctx.server.base_url}/api/v1/statuses", json={"status": text, "visibility": "public"},
        headers=ctx.acme.auth,
    ) as resp:
        post_status = resp.status
        await resp.read()
    returned_at = time.monotonic()
    stats = await _wait_verified(ctx, expected, s.fanout_timeout)
    last = max(stats["times"], default=returned_at)
    # Workers may start delivering before the POST's response is rendered, so the time after it returned
    # can be ~0 for a small fan-out; the headline counts from the POST being sent: all of the server's work.
    server_time = last - posted_at
    after_return = last - returned_at
    server_cpu = ctx.cpu().since(cpu)
    jobs_left = await ctx.pool.fetchval("SELECT count(*) FROM jobs WHERE kind = 'deliver'")
    complete = stats["verified"] == expected

    # The ceiling: the same body to the same inboxes.
    inboxes = [f"http://127.0.0.1:{port}/inbox" for port in ctx.peers.receivers[: s.fanout_hosts]]
    body = stats["sample_body"].encode()
    cpu = ctx.cpu()
    ceiling = await _ceiling(ctx, body, inboxes, key["private_key_pem"], key["key_id"])
    ceiling_cpu = ctx.cpu().since(cpu)

    time_ratio = ratio(server_time, ceiling["time_s"])
    result = Result(
        name="fanout",
        title=f"Fan-out ({s.fanout_followers:,} followers on {expected} hosts)",
        figure=round(server_time, 3),
        unit="s from POST to last verified delivery",
        ceiling=round(ceiling["time_s"], 3),
        ratio=time_ratio,
        ratio_meaning="server time ÷ ceiling time (lower is better)",
        goals=[
            Goal(
                f"time ≤ {GOAL_RATIO:g} x ceiling",
                complete and time_ratio <= GOAL_RATIO,
                f"{time_ratio:.2f} x ceiling ({server_time:.2f} s vs {ceiling['time_s']:.2f} s)"
                + ("" if complete else f"; only {stats['verified']} of {expected} verified"),
            ),
            Goal(
                "requests sent = distinct shared inboxes",
                stats["total"] == expected and stats["hosts"] == expected,
                f"{stats['total']} requests to {stats['hosts']} hosts for {expected} shared inboxes",
            ),
        ],
        metrics={
            **seeded,
            "post_status": post_status,
            "post_latency_ms": round((returned_at - posted_at) * 1000, 1),
            "last_verified_after_post_returned_s": round(after_return, 3),
            "requests_received": stats["total"],
            "verified": stats["verified"],
            "rejected": stats["rejected"],
            "rejection_reasons": stats["reasons"],
            "distinct_hosts_verified": stats["hosts"],
            "distinct_activities": stats["activity_ids"],
            "deliveries_per_s": round(stats["verified"] / server_time, 1) if server_time > 0 else 0.0,
            "followers_reached_per_s": round(s.fanout_followers * stats["verified"] / expected / server_time, 1)
            if server_time > 0 else 0.0,
            "delivery_jobs_left": jobs_left,
            "body_bytes": len(body),
            "cpu_server_run": server_cpu,
            "cpu_ceiling_run": ceiling_cpu,
            "ceiling_time_s": round(ceiling["time_s"], 3),
            "ceiling_sign_s": round(ceiling["sign_s"], 3),
            "ceiling_statuses": ceiling["statuses"],
            "ceiling_verified": ceiling["stats"]["verified"],
            "ceiling_deliveries_per_s": round(ceiling["stats"]["verified"] / ceiling["time_s"], 1)
            if ceiling["time_s"] > 0 else 0.0,
        },
        curves={
            "server": curve([t - posted_at for t in stats["times"]]),
            "ceiling": curve(ceiling["latencies"]),
        },
    )
    return result
