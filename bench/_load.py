"""A closed-loop HTTP load generator: N concurrent clients, each sending its next request as soon as the
previous one is answered, bounded by a request count and a wall-clock limit. Same driver for the server
under test and for its ceiling, so their ratio compares servers, not clients.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import aiohttp

from ._util import percentile


@dataclass(frozen=True, slots=True)
class Req:
    method: str
    url: str
    body: bytes | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    tag: str = ""  # groups latencies in the report (e.g. "first page" / "deep page")


@dataclass
class LoadResult:
    elapsed: float = 0.0  # seconds from the first request sent to the last answer
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    tagged: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[int] = field(default_factory=Counter)  # HTTP status -> count; 0 for transport errors
    errors: list[str] = field(default_factory=list)  # the first few non-2xx answers, for the report

    @property
    def ok(self) -> int:
        return sum(n for status, n in self.statuses.items() if 200 <= status < 300)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def rate(self) -> float:
        return self.ok / self.elapsed if self.elapsed > 0 else 0.0

    def pct_ms(self, p: float, tag: str | None = None) -> float:
        values = sorted(self.latencies if tag is None else self.tagged.get(tag, []))
        return round(percentile(values, p) * 1000.0, 2)


async def drive(
    session: aiohttp.ClientSession,
    make: Callable[[int], Req],
    *,
    concurrency: int,
    count: int | None = None,
    duration: float | None = None,
    limit_s: float = 600.0,
) -> LoadResult:
    """Send requests `make(0)`, `make(1)`, … from `concurrency` clients until `count` are sent or
    `duration` seconds have passed (whichever first); `limit_s` bounds the whole run regardless."""
    assert count is not None or duration is not None, "a load run needs a bound"
    result = LoadResult()
    next_index = 0
    began = time.perf_counter()
    stop_at = began + (duration if duration is not None else limit_s)
    last_answer = began

    async def client() -> None:
        nonlocal next_index, last_answer
        while time.perf_counter() < stop_at and (count is None or next_index < count):
            req = make(next_index)
            next_index += 1
            sent = time.perf_counter()
            try:
                async with session.request(req.method, req.url, data=req.body, headers=dict(req.headers)) as resp:
                    body = await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, TimeoutError) as exc:
                status, body = 0, repr(exc).encode()
            done = time.perf_counter()
            last_answer = max(last_answer, done)
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.latencies.append(done - sent)
                if req.tag:
                    result.tagged.setdefault(req.tag, []).append(done - sent)
            elif len(result.errors) < 5:
                result.errors.append(f"{req.method} {req.url}: {status} {body[:300]!r}")

    async with asyncio.timeout(limit_s + 30):
        await asyncio.gather(*(client() for _ in range(concurrency)))
    result.elapsed = last_answer - began
    return result


async def keepalive_probe(url: str, count: int = 30) -> dict[str, float]:
    """Sequential GETs on one keep-alive connection: the round trip a client on a reused connection sees,
    with nothing else running (exposes Nagle/delayed-ACK stalls, ~40 ms each)."""
    latencies: list[float] = []
    async with session_for(1, total_timeout=10) as session:
        for _ in range(count):
            sent = time.perf_counter()
            async with session.get(url) as resp:
                await resp.read()
            latencies.append(time.perf_counter() - sent)
    values = sorted(latencies[1:])  # the first request also opens the connection
    return {"p50_ms": round(percentile(values, 50) * 1000, 2), "max_ms": round(values[-1] * 1000, 2)}


def session_for(concurrency: int, *, total_timeout: float = 60.0) -> aiohttp.ClientSession:
    """A client session with exactly `concurrency` keep-alive connections."""
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency, force_close=False)
    return aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=total_timeout))


def summary(result: LoadResult) -> dict[str, object]:
    """The figures every load run reports."""
    return {
        "requests_ok": result.ok,
        "requests_sent": result.sent,
        "statuses": {str(k): v for k, v in sorted(result.statuses.items())},
        "elapsed_s": round(result.elapsed, 3),
        "rate_per_s": round(result.rate, 1),
        "p50_ms": result.pct_ms(50),
        "p90_ms": result.pct_ms(90),
        "p99_ms": result.pct_ms(99),
        "max_ms": result.pct_ms(100),
        "errors": result.errors,
    }
