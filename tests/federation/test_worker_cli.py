"""`fediverse-biz worker` as an operator runs it: a separate process that delivers queued jobs."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from fediverse_biz.core.urls import LocalUrls
from fediverse_biz.db.database import Database
from fediverse_biz.federation import outbox
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
                await outbox.deliver(conn, author, activity, [receiver.url(f"/inbox/{n}")])
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
