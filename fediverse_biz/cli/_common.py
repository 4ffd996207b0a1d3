"""What every command shares: the one-line error, the event loop, opening the database, the data directory."""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import Any

import asyncpg

from fediverse_biz import assembly
from fediverse_biz.config import Settings
from fediverse_biz.db import migrations
from fediverse_biz.db.database import Database, open_database
from fediverse_biz.db.embedded import EmbeddedPostgresError


class CliError(Exception):
    """An error to show as one line; `status` is the exit code."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


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
        # Written whole under a name of our own, then linked into place: link() fails if the name exists,
        # so when several processes start together on a fresh data directory one key wins and none can
        # read a half-written (empty) file.
        temporary = secret_file.with_name(f".secret_key.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as fh:
                fh.write(secrets.token_urlsafe(48))
                fh.flush()
                os.fsync(fh.fileno())
            try:
                os.link(temporary, secret_file)
            except FileExistsError:
                pass  # another process got there first: its key is the instance's
        finally:
            temporary.unlink()
    return replace(settings, secret_key=secret_file.read_text().strip())


def run(coro: Awaitable[Any]) -> Any:
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


async def with_database(settings: Settings, action: Callable[[Database], Awaitable[Any]]) -> Any:
    db = await open_db(settings)
    try:
        return await action(db)
    finally:
        await db.close()


async def open_db(settings: Settings, *, own_embedded: bool = False) -> Database:
    """The database, for a command that works on it; the extension points are installed too, since a
    domain operation run from here (approving, deleting, delivering) calls them as it does in `serve`."""
    assembly.install_hooks()
    try:
        return await open_database(settings, own_embedded=own_embedded)
    except migrations.MigrationError as exc:
        raise CliError(f"database: {exc}") from None
    except EmbeddedPostgresError as exc:
        raise CliError(f"embedded PostgreSQL: {str(exc).splitlines()[0]}") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        where = "DATABASE_URL" if settings.database_url else "embedded PostgreSQL"
        raise CliError(f"cannot connect to the database ({where}): {exc}") from None
