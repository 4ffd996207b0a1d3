"""`fediverse-biz worker` as an operator runs it: a separate process that delivers queued jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

from fediverse_biz.core import outbound
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.inbox import FakeInbox


async def test_worker_process_delivers_queued_activities_and_stops_cleanly(
    db: Database, dsn: str, urls: LocalUrls, tmp_path: Path
) -> None:
    # given a receiver with the sender's public key, and three deliveries queued for it
    author = await factories.local_actor(db.pool, urls, "author")
    receiver = await FakeInbox(public_keys={author["key_id"]: author["public_key_pem"]}).start()
    try:
        async with db.pool.acquire() as conn:
            for n in range(3):
                activity = {"id": f"{author['uri']}#test/{n}", "type": "Note", "actor": author["uri"]}
                await outbound.deliver(conn, author, activity, [receiver.url(f"/inbox/{n}")])
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_")}
        env.update(
            DATABASE_URL=dsn,
            FEDIVERSE_BIZ_DATA_DIR=str(tmp_path / "data"),
            FEDIVERSE_BIZ_DOMAIN="127.0.0.1",
            FEDIVERSE_BIZ_SCHEME="http",
            FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES="127.0.0.0/8",
        )
        # when a worker process runs
        worker = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "fediverse_biz.cli",
            "worker",
            "--concurrency",
            "2",
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            async with asyncio.timeout(60):
                while len(receiver.received) < 3 or await db.pool.fetchval("SELECT count(*) FROM jobs"):  # noqa: ASYNC110
                    await asyncio.sleep(0.1)
        finally:
            worker.send_signal(signal.SIGTERM)
            _, stderr = await asyncio.wait_for(worker.communicate(), 60)
        # then every activity arrived once, signed by the author, and the worker exited cleanly
        assert sorted(r.activity["id"] for r in receiver.received) == [f"{author['uri']}#test/{n}" for n in range(3)]
        assert all(r.verified_key_id == author["key_id"] for r in receiver.received)
        assert worker.returncode == 0, stderr.decode()
    finally:
        await receiver.stop()


def worker_env(dsn: str, data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_")}
    env.update(DATABASE_URL=dsn, FEDIVERSE_BIZ_DATA_DIR=str(data_dir), **extra)
    return env


async def test_worker_slots_are_its_own_setting_not_the_web_processes(dsn: str, tmp_path: Path) -> None:
    # The environment a scaled-out install shares: FEDIVERSE_BIZ_WORKERS=0 keeps jobs out of `serve`.
    cases = [
        ({"FEDIVERSE_BIZ_WORKERS": "0"}, [], 32),
        ({"FEDIVERSE_BIZ_WORKERS": "0", "FEDIVERSE_BIZ_WORKER_CONCURRENCY": "5"}, [], 5),
        ({"FEDIVERSE_BIZ_WORKER_CONCURRENCY": "5"}, ["--concurrency", "3"], 3),
    ]
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fediverse_biz.cli", "worker", *args,
            env=worker_env(dsn, tmp_path / "data", **extra),
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for extra, args, _ in cases
    ]
    try:
        for worker, (_, _, slots) in zip(workers, cases, strict=True):
            assert worker.stdout is not None
            first_line = await asyncio.wait_for(worker.stdout.readline(), 60)
            assert first_line.decode().endswith(f"worker running {slots} job slots\n"), first_line
    finally:
        for worker in workers:
            if worker.returncode is None:
                worker.send_signal(signal.SIGTERM)
        outcomes = [await asyncio.wait_for(worker.communicate(), 60) for worker in workers]
    for worker, (_, stderr) in zip(workers, outcomes, strict=True):
        assert worker.returncode == 0, stderr.decode()


def test_worker_refuses_zero_slots_in_one_line(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "fediverse_biz.cli", "worker", "--concurrency", "0"],
        env=worker_env("postgresql://unused.invalid/x", tmp_path / "data"), capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "fediverse-biz worker: error: argument --concurrency: must be between 1 and 256, got 0"
    ]
