"""The `fediverse-biz` command: init, serve, migrate, create-user, create-org, list-accounts.

Every failure an operator can cause prints one line on stderr and exits non-zero (2 for a bad
setting or bad arguments, 1 otherwise) — never a traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import errno
import fcntl
import getpass
import logging
import os
import secrets
import signal
import socket
import sys
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn

import asyncpg

from . import __version__, gc_tuning
from .config import ConfigError, Settings, load_settings
from .core import accounts
from .core.urls import LocalUrls
from .db import migrations
from .db.database import Database, open_database
from .db.embedded import EmbeddedPostgresError

log = logging.getLogger("fediverse_biz")


class CliError(Exception):
    """An error to show as one line; `status` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


# ---- set-up shared by commands --------------------------------------------------------------------
def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=getattr(logging, level.upper()),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def ensure_data_dir(settings: Settings) -> Settings:
    """Create the data directory and the secret key (kept in <data>/secret_key, mode 0600)."""
    try:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        settings.media_path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise CliError(f"cannot create data directory {settings.data_dir}: {exc.strerror}") from None
    if settings.secret_key:
        return settings
    secret_file = settings.data_dir / "secret_key"
    if not secret_file.exists():
        fd = os.open(secret_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(48))
    return replace(settings, secret_key=secret_file.read_text().strip())


def _run(coro: Awaitable[Any]) -> Any:
    async def wrapper() -> Any:
        return await coro

    # uvloop when installed (uvicorn[standard] brings it), as `uvicorn.run` would pick: we run the server
    # inside our own loop, so its choice does not apply. The stock loop's socket and callback handling
    # was an eighth of a timeline request's CPU (docs/benchmarks.md).
    try:
        import uvloop
    except ImportError:
        return asyncio.run(wrapper())
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(wrapper())


async def _with_database(settings: Settings, action: Callable[[Database], Awaitable[Any]]) -> Any:
    db = await _open(settings)
    try:
        return await action(db)
    finally:
        await db.close()


async def _open(settings: Settings, *, own_embedded: bool = False) -> Database:
    try:
        return await open_database(settings, own_embedded=own_embedded)
    except migrations.MigrationError as exc:
        raise CliError(f"database: {exc}") from None
    except EmbeddedPostgresError as exc:
        raise CliError(f"embedded PostgreSQL: {str(exc).splitlines()[0]}") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        where = "DATABASE_URL" if settings.database_url else "embedded PostgreSQL"
        raise CliError(f"cannot connect to the database ({where}): {exc}") from None


def _read_password(path: str | None) -> str:
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise CliError(f"--password-file: cannot read {path}: {exc.strerror}") from None
        return text.splitlines()[0] if text else ""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise CliError("the passwords do not match")
    return first


# ---- commands -------------------------------------------------------------------------------------
def cmd_init(settings: Settings, args: argparse.Namespace) -> None:
    async def action(db: Database) -> None:
        await accounts.ensure_instance_actor(db.pool, LocalUrls(settings.base_url), settings.hostname)

    _run(_with_database(settings, action))
    print(f"initialised {settings.data_dir.resolve()} for {settings.base_url}")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    async def action(db: Database) -> None:
        async with db.pool.acquire() as conn:
            versions = await migrations.applied_versions(conn)
        print(f"database is at migration {max(versions):04d}" if versions else "no migrations applied")

    # open_database applies pending migrations before it returns.
    _run(_with_database(settings, action))


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> None:
    accounts.validate_username(args.username)  # fail before prompting for a password
    accounts.validate_email(args.email)
    password = _read_password(args.password_file)

    async def action(db: Database) -> accounts.NewUser:
        return await accounts.create_user(
            db.pool, LocalUrls(settings.base_url), args.username, args.email, password,
            role="admin" if args.admin else "member", display_name=args.display_name or "",
        )

    user = _run(_with_database(settings, action))
    print(f"created user @{user.username}@{settings.domain} (id {user.actor_id})")


def cmd_create_org(settings: Settings, args: argparse.Namespace) -> None:
    accounts.validate_username(args.username)

    async def action(db: Database) -> asyncpg.Record:
        return await accounts.create_organization(
            db.pool, LocalUrls(settings.base_url), args.username, args.owner,
            display_name=args.display_name or "",
        )

    org = _run(_with_database(settings, action))
    print(f"created organization @{org['username']}@{settings.domain} (id {org['id']}), owner @{args.owner}")


def cmd_list_accounts(settings: Settings, args: argparse.Namespace) -> None:
    rows = _run(_with_database(settings, lambda db: accounts.list_local_accounts(db.pool)))
    if not rows:
        print("no accounts yet")
        return
    print(f"{'id':<20} {'username':<31} {'type':<13} {'role/owner':<20} email")
    for r in rows:
        who = r["role"] or (f"owner @{r['owners']}" if r["owners"] else "")
        print(f"{r['id']:<20} {r['username']:<31} {r['actor_type']:<13} {who:<20} {r['email'] or ''}")


@contextmanager
def _serve_lock(settings: Settings) -> Iterator[None]:
    """One `serve` per data directory: the flock dies with the process, so SIGKILL leaves no stale lock."""
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


def cmd_serve(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from .app import create_app

    with _serve_lock(settings):
        sock = _bind(settings.host, settings.port)
        # uvicorn shuts down on SIGTERM/SIGINT and then re-raises the signal once its handlers are
        # restored; with the default SIGTERM action the process would die before our `finally`
        # stops the embedded PostgreSQL. Turning it into an exception lets the clean-up run.
        signal.signal(signal.SIGTERM, _terminate)

        async def serve() -> None:
            db = await _open(settings, own_embedded=True)
            try:
                app = create_app(settings, db)
                config = uvicorn.Config(
                    app, log_config=None, access_log=False, lifespan="on", server_header=False,
                    proxy_headers=True, forwarded_allow_ips="127.0.0.1",
                    # Open streaming connections must not hold a shutdown hostage.
                    timeout_graceful_shutdown=5,
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
            _run(serve())
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
    from .app import USER_AGENT
    from .federation.fetch import create_session
    from .federation.worker import run_workers

    concurrency = args.concurrency if args.concurrency is not None else max(settings.workers, 1)

    async def work() -> None:
        db = await _open(settings)
        http = create_session(settings.allow_private_addresses, user_agent=USER_AGENT)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        print(f"fediverse_biz {__version__} worker running {concurrency} job slots", flush=True)
        gc_tuning.tune()
        try:
            await run_workers(db.pool, http, settings, stop, concurrency=concurrency)
        finally:
            await http.close()
            await db.close()

    _run(work())


# ---- argument parsing -----------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="fediverse-biz", description="A federated ActivityPub server for business communities.")
    parser.add_argument("--version", action="version", version=f"fediverse_biz {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("serve", help="run the web server (initialising the data directory if needed)")
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help="port to listen on (default 8000)")
    p.set_defaults(func=cmd_serve)

    p = sub.add_parser("worker", help="run background jobs (deliveries, inbox) without the web server")
    p.add_argument("--concurrency", type=int, help="job slots in this process (default FEDIVERSE_BIZ_WORKERS)")
    p.set_defaults(func=cmd_worker)

    sub.add_parser("init", help="create the data directory, secret, database and instance actor").set_defaults(
        func=cmd_init
    )
    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-user", help="create a local user and their personal account")
    p.add_argument("username")
    p.add_argument("--email", required=True)
    p.add_argument("--password-file", help="read the password from the first line of this file")
    p.add_argument("--admin", action="store_true", help="give the user the admin role")
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("create-org", help="create an organization account owned by a user")
    p.add_argument("username")
    p.add_argument("--owner", required=True, help="username of the owning local user")
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_create_org)

    sub.add_parser("list-accounts", help="list local accounts").set_defaults(func=cmd_list_accounts)
    return parser


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    try:
        overrides: dict[str, Any] = {}
        if getattr(args, "host", None):
            overrides["host"] = args.host
        if getattr(args, "port", None) is not None:
            overrides["port"] = args.port
        settings = load_settings(**overrides)
    except ConfigError as exc:
        print(f"fediverse-biz: configuration error: {exc}", file=sys.stderr)
        sys.exit(2)
    _setup_logging(settings.log_level)
    try:
        settings = ensure_data_dir(settings)
        args.func(settings, args)
    except CliError as exc:
        print(f"fediverse-biz: error: {exc}", file=sys.stderr)
        sys.exit(exc.status)
    except accounts.AccountError as exc:
        print(f"fediverse-biz: error: {exc}", file=sys.stderr)
        sys.exit(1)
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
