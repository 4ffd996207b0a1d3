"""`serve` (web and, by default, background jobs in one process) and `worker` (background jobs only)."""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import logging
import os
import resource
import signal
import socket
from collections.abc import Iterator
from contextlib import contextmanager

from fediverse_biz import __version__, gc_tuning
from fediverse_biz.cli._common import CliError, open_db, run
from fediverse_biz.config import Settings

log = logging.getLogger(__name__)

# Descriptors a `serve` needs besides its clients' connections: the database pool, the federation HTTP
# client (up to 100 connections, net/fetch.py), files being uploaded, logs.
OTHER_FILES = 512
# uvicorn closes an idle keep-alive connection after this many seconds (its default, said aloud). A
# reverse proxy keeping connections to us should give up on them sooner (docs/operations.md).
KEEP_ALIVE_SECONDS = 5


@contextmanager
def _serve_lock(settings: Settings) -> Iterator[None]:
    """One `serve` per embedded cluster: the flock dies with the process, so SIGKILL leaves no stale lock.

    Only the embedded cluster needs it: a `serve` stops the cluster on exit, under any other `serve`
    still using it. With DATABASE_URL nothing in the data directory belongs to one process (media files
    get unique names, the secret key is written once and then only read), so any number of `serve`
    processes may share it behind one proxy.
    """
    if settings.database_url:
        yield
        return
    path = settings.data_dir / "serve.lock"
    with path.open("w") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CliError(f"another fediverse-biz serve is already using {settings.data_dir}") from None
        fh.write(str(os.getpid()))
        fh.flush()
        yield


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # asyncio sets TCP_NODELAY only on sockets created with proto IPPROTO_TCP, not on this one (proto 0);
    # without it a response written in two parts waits ~40 ms for the client's delayed ACK
    # (measured by bench/). Accepted connections inherit the option on Linux.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        reason = "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise CliError(f"cannot listen on {host}:{port}: {reason}") from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _raise_file_limit(connections: int) -> None:
    """Let the process hold `connections` clients: past its open-file limit accept() fails and the cap's
    503 is never reached. Often the soft limit is 1024 and the hard one far higher; ask for what is needed."""
    needed = connections + OTHER_FILES
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY or soft >= needed:
        return
    target = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            target = soft
    if target < needed:
        log.warning(
            "the open-file limit (%d) is below FEDIVERSE_BIZ_MAX_CONNECTIONS + %d: new connections may be "
            "refused before the cap's 503; raise the limit (LimitNOFILE= in a systemd unit) or lower the cap",
            target, OTHER_FILES,
        )


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    # The server's modules are imported by the commands that run it, not by `fediverse-biz --help` or
    # `backup`: importing the whole application costs a second of start-up that those commands need not pay.
    import uvicorn

    from fediverse_biz.app import create_app
    from fediverse_biz.slow_clients import protocol_class

    with _serve_lock(settings):
        _raise_file_limit(settings.max_connections)
        sock = _bind(settings.host, settings.port)
        # uvicorn shuts down on SIGTERM/SIGINT and then re-raises the signal once its handlers are
        # restored; with the default SIGTERM action the process would die before our `finally`
        # stops the embedded PostgreSQL. Turning it into an exception lets the clean-up run.
        signal.signal(signal.SIGTERM, _terminate)

        async def serve() -> None:
            db = await open_db(settings, own_embedded=True)
            try:
                app = create_app(settings, db)
                config = uvicorn.Config(
                    app, log_config=None, access_log=False, lifespan="on", server_header=False,
                    proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                    # Open streaming connections must not hold a shutdown hostage.
                    timeout_graceful_shutdown=5,
                    # Slow clients (docs/reliability.md): httptools with a deadline for the request's
                    # headers and a cap on their size (the body's deadline is middleware.BodyReadTimeout).
                    http=protocol_class(settings.header_timeout, settings.body_timeout),
                    timeout_keep_alive=KEEP_ALIVE_SECONDS,
                    # uvicorn answers 503 once open connections, the one asking included, reach this.
                    limit_concurrency=settings.max_connections + 1,
                )
                server = uvicorn.Server(config)
                gc_tuning.tune()
                print(
                    f"fediverse_biz {__version__} is serving {settings.base_url} "
                    f"(listening on {settings.host}:{settings.port}, data in {settings.data_dir.resolve()})\n"
                    "create the first account with: fediverse-biz create-user NAME --email YOU@EXAMPLE.COM --admin",
                    flush=True,
                )
                await server.serve(sockets=[sock])
            finally:
                await db.close()

        try:
            run(serve())
        except _Terminated:
            pass
        finally:
            sock.close()


class _Terminated(Exception):
    pass


def _terminate(signum: int, frame: object) -> None:
    raise _Terminated


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    """Background jobs only (deliveries, inbox processing), for installs that scale them separately."""
    from fediverse_biz import assembly
    from fediverse_biz.app import USER_AGENT
    from fediverse_biz.jobs.worker import run_workers
    from fediverse_biz.net.fetch import create_session

    # Not settings.workers: that is the slot count inside `serve`, and the web processes this worker
    # relieves run with it at 0.
    concurrency = args.concurrency if args.concurrency is not None else settings.worker_concurrency

    async def work() -> None:
        db = await open_db(settings)
        http = create_session(settings.allow_private_addresses, user_agent=USER_AGENT)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"fediverse_biz {__version__} worker running {concurrency} job slots", flush=True)
        gc_tuning.tune()
        try:
            handlers = assembly.job_handlers()
            await run_workers(db.pool, http, settings, stop, handlers=handlers, concurrency=concurrency)
        finally:
            await http.close()
            await db.close()

    run(work())


def _slots(text: str) -> int:
    # 0 slots would make a worker that runs nothing; the bound is FEDIVERSE_BIZ_WORKER_CONCURRENCY's.
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if not 1 <= number <= 256:
        raise argparse.ArgumentTypeError(f"must be between 1 and 256, got {number}")
    return number


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("serve", help="run the web server (initialising the data directory if needed)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background jobs (deliveries, inbox) without the web server")
    p.add_argument(
        "--concurrency", type=_slots, metavar="N",
        help="job slots in this process, 1-256 (default FEDIVERSE_BIZ_WORKER_CONCURRENCY, 32)",
    )
    p.set_defaults(func=cmd_worker)
