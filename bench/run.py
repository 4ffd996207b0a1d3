"""Run the benchmark suite against a freshly started `fediverse-biz serve` on the embedded database.

    python -m bench.run [--quick] [--out bench/out] [--server-env NAME=VALUE ...] [--only NAME,...] [--keep]
                        [--profile DIR] [--wait-quiet SECONDS]

Writes report.json, report.md and latency.png to --out, and prints each benchmark's figure, the ceiling
measured in the same run, and their ratio as it goes. `--quick` uses tiny sizes (CI keeps the scripts
working with it; its figures mean little). Everything runs on 127.0.0.1; every load loop is bounded
in request count and in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg

from . import fanout, footprint, home_timeline, inbox_ingest, posting, report
from ._context import FULL, QUICK, Account, Context, Result
from ._server import ServerError, ServerProcess, cli_command, spawn
from ._util import free_port, machine_busy_seconds, run_async
from .peers import Peers

REPO = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-not-secret-1234"
CEILING_DATABASE = "bench_ceiling"
CEILING_START_TIMEOUT = 60.0
QUIET_SHARE = 0.10  # the machine counts as quiet below 10 % busy
BENCHMARKS: dict[str, Callable[[Context], Awaitable[Result]]] = {
    "inbox_ingest": inbox_ingest.run,
    "fanout": fanout.run,
    "home_timeline": home_timeline.run,
    "posting": posting.run,
}


def say(message: str) -> None:
    print(message, flush=True)


# ---- set-up -------------------------------------------------------------------------------------
async def cli(server: ServerProcess, *args: str) -> str:
    """A `fediverse-biz` command against the running server's data directory (it joins the cluster)."""
    proc = await asyncio.create_subprocess_exec(
        *cli_command(), *args, env=server.environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )
    async with asyncio.timeout(120):
        output, _ = await proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"fediverse-biz {' '.join(args)} failed: {output.decode(errors='replace')}")
    return output.decode()


async def token(http: aiohttp.ClientSession, base: str, username: str, actor: str | None = None) -> str:
    """A user token through the real OAuth path: register an app, then the password grant."""
    async with http.post(
        f"{base}/api/v1/apps",
        json={"client_name": "bench", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob", "scopes": "read write"},
    ) as resp:
        app = await resp.json()
    form = {
        "grant_type": "password", "client_id": app["client_id"], "client_secret": app["client_secret"],
        "username": username, "password": PASSWORD, "scope": "read write",
    }
    if actor:
        form["actor"] = actor
    async with http.post(f"{base}/oauth/token", data=form) as resp:
        body = await resp.json()
        if resp.status != 200:
            raise RuntimeError(f"no token for {username}: {resp.status} {body}")
        return str(body["access_token"])


async def accounts(server: ServerProcess, pool: asyncpg.Pool, http: aiohttp.ClientSession, workdir: Path
                   ) -> tuple[Account, Account, Account]:
    password_file = workdir / "password"
    password_file.write_text(PASSWORD + "\n")
    for name in ("alice", "reader"):
        await cli(server, "create-user", name, "--email", f"{name}@bench.invalid",
                  "--password-file", str(password_file))
    await cli(server, "create-org", "acme", "--owner", "alice", "--display-name", "ACME Components Ltd")

    async def account(username: str, login: str, actor: str | None = None) -> Account:
        actor_id = await pool.fetchval(
            "SELECT id FROM actors WHERE username = $1 AND domain IS NULL", username
        )
        return Account(username, int(actor_id), await token(http, server.base_url, login, actor))

    return await account("alice", "alice"), await account("acme", "alice", "acme"), await account("reader", "reader")


async def start_ceiling(
    server: ServerProcess, workdir: Path, followers: int
) -> tuple[subprocess.Popen[bytes], str, float]:
    admin = await asyncpg.connect(server.dsn("postgres"))
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{CEILING_DATABASE}"')
        await admin.execute(f'CREATE DATABASE "{CEILING_DATABASE}"')
    finally:
        await admin.close()
    port = free_port()
    began = time.perf_counter()
    proc = spawn(
        [sys.executable, "-m", "bench.ceilings", "--port", str(port), "--app-dsn", server.dsn(),
         "--ceiling-dsn", server.dsn(CEILING_DATABASE), "--followers", str(followers)],
        workdir / "ceilings.log", cwd=REPO,
    )
    url = f"http://127.0.0.1:{port}"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
        while time.perf_counter() - began < CEILING_START_TIMEOUT:
            if proc.poll() is not None:
                break
            with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                async with http.get(f"{url}/healthz") as resp:
                    if resp.status == 200:
                        return proc, url, time.perf_counter() - began
            await asyncio.sleep(0.01)
    proc.kill()
    raise RuntimeError(f"the ceiling app did not start; see {workdir / 'ceilings.log'}")


async def stop_process(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        await asyncio.to_thread(proc.wait, 30)
    except subprocess.TimeoutExpired:
        proc.kill()


def start_profiler(directory: Path | None, name: str, pid: int) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the server process during one benchmark, if asked for and installed."""
    py_spy = shutil.which("py-spy")
    if directory is None or py_spy is None:
        return None
    directory.mkdir(parents=True, exist_ok=True)
    return spawn(
        [py_spy, "record", "--pid", str(pid), "--rate", "250", "--format", "raw", "--nonblocking", "--gil",
         "--output", str(directory / f"{name}.txt")],
        directory / f"{name}.log",
    )


async def stop_profiler(proc: subprocess.Popen[bytes] | None) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)  # py-spy writes its output on SIGINT
    try:
        await asyncio.to_thread(proc.wait, 60)
    except subprocess.TimeoutExpired:
        proc.kill()


def machine() -> dict[str, Any]:
    cpu = "unknown CPU"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory_gb = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gb = round(int(line.split()[1]) / 1024 / 1024, 1)
    return {
        "cpu": cpu, "cores": os.cpu_count(), "memory_gb": memory_gb,
        "kernel": f"{platform.system()} {platform.release()}", "python": platform.python_version(),
    }


def source_tree() -> dict[str, Any]:
    """Which code was measured: the commit, and how many files differed from it (read-only git)."""
    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=REPO, capture_output=True, text=True, timeout=10).stdout.strip()
        except (OSError, subprocess.SubprocessError):
            return ""

    return {"commit": git("rev-parse", "--short", "HEAD") or "unknown",
            "uncommitted_paths": len(git("status", "--porcelain").splitlines())}


def print_result(r: Result) -> None:
    if r.error:
        say(f"[{r.name}] ERROR: {r.error}")
        return
    say(f"[{r.name}] {r.title}: figure {r.figure:,.3f} {r.unit} | ceiling {r.ceiling:,.3f} | "
        f"ratio {r.ratio:.2f} ({r.ratio_meaning})")
    for goal in r.goals:
        say(f"[{r.name}]   {'met' if goal.met else 'MISSED'}: {goal.text} — {goal.detail}")


def failed(name: str, exc: BaseException) -> Result:
    return Result(name=name, title=name, figure=0.0, unit="", ceiling=0.0, ratio=0.0, ratio_meaning="",
                  error=f"{type(exc).__name__}: {exc}"[:2000])


# ---- the suite ----------------------------------------------------------------------------------
async def suite(args: argparse.Namespace, workdir: Path) -> tuple[list[Result], dict[str, Any]]:
    sizes = QUICK if args.quick else FULL
    extra_env = dict(item.split("=", 1) for item in args.server_env)
    only = set(args.only.split(",")) if args.only else set(BENCHMARKS)
    began = time.perf_counter()
    keys = inbox_ingest.make_keys(sizes.inbox_actors)
    say(f"generated {len(keys)} sender keys in {time.perf_counter() - began:.1f} s")
    peers = Peers(workdir / "peers")
    ceiling_proc: subprocess.Popen[bytes] | None = None
    results: list[Result] = []
    info: dict[str, Any] = {}
    server: ServerProcess | None = None
    try:
        await peers.start(inbox_ingest.actor_specs(keys, sizes.inbox_actor_hosts), sizes.inbox_actor_hosts,
                          sizes.fanout_hosts)
        say(f"peers: {len(peers.actor_hosts)} actor hosts, {len(peers.receivers)} receiver ports")
        # The server's port is picked once the peers hold their 500-odd ports, or it could be one of them.
        server = ServerProcess(workdir / "data", free_port(), workdir / "serve.log", extra_env)
        info["server_env"] = {k: v for k, v in server.environment().items()
                              if k.startswith("FEDIVERSE_BIZ_") and k != "FEDIVERSE_BIZ_DATA_DIR"}
        starts = await footprint.measure_starts(server, sizes.warm_starts)
        say(f"serve: cold start {starts['cold_start_s']:.2f} s, warm {starts['warm_starts_s']} s, "
            f"PostgreSQL alone {starts['postgres_alone_start_s']:.2f} s")
        idle = await footprint.memory(server)
        say(f"idle: serve {idle['server_rss_mb']} MB RSS, PostgreSQL {idle['postgres_pss_sum_mb']} MB PSS")
        pool = await asyncpg.create_pool(server.dsn(), min_size=1, max_size=4)
        assert pool is not None
        try:
            info["machine"] = {**machine(), "postgres": await pool.fetchval("SHOW server_version")}
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as http:
                alice, acme, reader = await accounts(server, pool, http, workdir)
                ceiling_proc, ceiling_url, ceiling_start = await start_ceiling(
                    server, workdir, sizes.posting_followers
                )
                ctx = Context(quick=args.quick, sizes=sizes, server=server, peers=peers, pool=pool, http=http,
                              ceiling_url=ceiling_url, alice=alice, acme=acme, reader=reader, workdir=workdir,
                              inbox_keys=keys, ceiling_pid=ceiling_proc.pid)
                suite_cpu = ctx.cpu()
                for name, bench in BENCHMARKS.items():
                    if name not in only:
                        continue
                    say(f"[{name}] running…")
                    t0 = time.perf_counter()
                    profiler = start_profiler(args.profile, name, server.pid)
                    try:
                        result = await bench(ctx)
                    except Exception as exc:  # one broken benchmark must not lose the others' figures
                        traceback.print_exc()
                        result = failed(name, exc)
                    finally:
                        await stop_profiler(profiler)
                    result.metrics["wall_s"] = round(time.perf_counter() - t0, 1)
                    print_result(result)
                    results.append(result)
                info["cpu"] = ctx.cpu().since(suite_cpu)
                say(f"CPU during the benchmarks: {info['cpu']}")
        finally:
            await pool.close()
        after = await footprint.memory(server)
        ceiling_pid = ceiling_proc.pid
        rss_result = footprint.result(starts, idle, after, ceiling_pid=ceiling_pid, ceiling_start_s=ceiling_start,
                                      warm_start_seeded_s=None)
        await stop_process(ceiling_proc)
        await server.stop()
        seeded_start = await server.start()  # a later run, now on the seeded database
        rss_result.metrics["warm_start_seeded_db_s"] = round(seeded_start, 3)
        print_result(rss_result)
        results.append(rss_result)
    except ServerError as exc:
        say(str(exc))
        results.append(failed("footprint", exc))
    finally:
        await stop_process(ceiling_proc)
        if server is not None:
            await server.stop()
        await peers.stop()
    return results, info


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description="fediverse_biz benchmark suite")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, a few seconds each (CI)")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "out", help="report directory")
    parser.add_argument("--server-env", action="append", default=[], metavar="NAME=VALUE",
                        help="extra environment for `fediverse-biz serve`, e.g. FEDIVERSE_BIZ_WORKERS=16")
    parser.add_argument("--only", help=f"comma-separated subset of {','.join(BENCHMARKS)} (footprint always runs)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data directory and logs")
    parser.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                        help="first wait up to SECONDS for other work on the machine to stop (shared machines)")
    parser.add_argument("--profile", type=Path, metavar="DIR",
                        help="py-spy --gil samples of the server (if on PATH) per benchmark, to DIR")
    args = parser.parse_args(argv)
    for item in args.server_env:
        if "=" not in item or not item.startswith("FEDIVERSE_BIZ_"):
            parser.error(f"--server-env wants FEDIVERSE_BIZ_NAME=VALUE, got {item!r}")
    return args


async def wait_until_quiet(limit_s: float) -> float:
    """Wait (at most `limit_s`) until the machine is nearly idle over a 5 s window; returns its busy share."""
    deadline = time.monotonic() + limit_s
    while True:
        busy, began = machine_busy_seconds(), time.monotonic()
        await asyncio.sleep(5)
        share = (machine_busy_seconds() - busy) / ((time.monotonic() - began) * (os.cpu_count() or 1))
        if share < QUIET_SHARE or time.monotonic() > deadline:
            return share
        say(f"machine {share:.0%} busy with other work; waiting for it to quieten")


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="fediverse_biz-bench-"))
    started_at = datetime.now(UTC)
    began = time.perf_counter()
    say(f"fediverse_biz benchmarks ({'quick' if args.quick else 'full'}); work directory {workdir}")
    busy_before = await wait_until_quiet(args.wait_quiet) if args.wait_quiet > 0 else None
    try:
        results, info = await suite(args, workdir)
    finally:
        if args.keep:
            say(f"kept {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    full_report: dict[str, Any] = {
        "command": " ".join(["python -m bench.run", *argv]),
        "mode": "quick" if args.quick else "full",
        "started_at": started_at.isoformat(timespec="seconds"),
        "duration_s": round(time.perf_counter() - began, 1),
        "machine": info.get("machine", machine()),
        "source": source_tree(),
        "server_env": " ".join(f"{k}={v}" for k, v in sorted(info.get("server_env", {}).items())),
        "server_launcher": "fediverse-biz serve",
        "machine_busy_before_start": round(busy_before, 3) if busy_before is not None else None,
        "cpu_during_benchmarks": info.get("cpu"),
        "benchmarks": {r.name: r.to_json() for r in results},
    }
    report.write_json(args.out / "report.json", full_report)
    report.plot(args.out / "latency.png", results)
    (args.out / "report.md").write_text(report.markdown(full_report, results, "latency.png"))
    say(f"wrote {args.out / 'report.md'}, report.json and latency.png in {full_report['duration_s']:.0f} s")
    return 1 if any(r.error for r in results) else 0


if __name__ == "__main__":
    sys.exit(run_async(main(sys.argv[1:])))
