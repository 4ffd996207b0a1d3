"""A job worker in its own process, for the crash test: `python -m tests.support.run_worker DSN [options]`.

Builds what `fediverse-biz worker` builds — a pool, the one HTTP session, a Worker with the production
handlers — against a test database, and runs until SIGTERM/SIGINT (graceful) or SIGKILL (the crash).
Only the lease and the backoff are shortened, so expired leases and retries happen within a test.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from datetime import timedelta

from fediverse_biz.config import Settings
from fediverse_biz.db.pool import create_pool
from fediverse_biz.federation.delivery import handlers
from fediverse_biz.jobs.worker import Worker
from fediverse_biz.net.fetch import create_session


async def main(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    pool = await create_pool(args.dsn, min_size=1, max_size=4)
    http = create_session(["127.0.0.0/8"], user_agent="test")
    try:
        worker = Worker(
            pool, http, Settings(domain="127.0.0.1", scheme="http", allow_private_addresses=("127.0.0.0/8",)),
            handlers(),
            concurrency=args.concurrency,
            poll_interval=args.poll_interval,
            lease=timedelta(seconds=args.lease),
            per_host_limit=args.per_host_limit,
            backoff_scale=args.backoff_scale,
            worker_id=args.worker_id,
        )
        await worker.run(stop)
    finally:
        await http.close()
        await pool.close()


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="run_worker")
    parser.add_argument("dsn")
    parser.add_argument("--lease", type=float, default=300.0, help="lease in seconds")
    parser.add_argument("--backoff-scale", type=float, default=1.0, help="multiplies the retry curve")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--per-host-limit", type=int, default=4)
    parser.add_argument("--poll-interval", type=float, default=1.0)
    parser.add_argument("--worker-id")
    return parser.parse_args(argv)


if __name__ == "__main__":
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    asyncio.run(main(parse(sys.argv[1:])))
