"""`backup FILE` and `restore FILE`: the whole install (database, media, secret key) in one archive.

The work is in db/backup.py; this module parses arguments and turns its errors into the one-line kind.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Awaitable
from pathlib import Path
from typing import TypeVar

import asyncpg

from fediverse_biz.cli._common import CliError, run
from fediverse_biz.config import Settings
from fediverse_biz.db import backup as archive
from fediverse_biz.db import restore as restoring
from fediverse_biz.db.embedded import EmbeddedPostgresError

T = TypeVar("T")


def _guarded(settings: Settings, action: Awaitable[T]) -> T:
    try:
        result: T = run(action)
        return result
    except archive.BackupError as exc:
        raise CliError(str(exc)) from None
    except EmbeddedPostgresError as exc:
        raise CliError(f"embedded PostgreSQL: {str(exc).splitlines()[0]}") from None
    except (OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        where = "DATABASE_URL" if settings.database_url else "embedded PostgreSQL"
        raise CliError(f"database ({where}): {' '.join(str(exc).split())}") from None


def _size(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def cmd_backup(settings: Settings, args: argparse.Namespace) -> None:
    result = _guarded(settings, archive.backup(settings, Path(args.file), overwrite=args.force))
    secret = "secret key included" if result.manifest["secret_key"] == "included" else (
        "secret key not included (it comes from FEDIVERSE_BIZ_SECRET_KEY)"
    )
    print(
        f"backed up {settings.domain} to {result.path}: database {_size(result.dump_bytes)} "
        f"(PostgreSQL {result.manifest['postgresql_server_version']}), {result.media_files} media files, {secret}"
    )


def cmd_restore(settings: Settings, args: argparse.Namespace) -> None:
    result = _guarded(settings, restoring.restore(settings, Path(args.file)))
    manifest = result.manifest
    for warning in result.warnings:
        print(f"fediverse-biz: warning: {warning}", file=sys.stderr)
    where = "the database at DATABASE_URL" if settings.database_url else "the embedded database"
    print(
        f"restored the backup of {manifest.get('domain')} made {manifest.get('created_at')} by fediverse_biz "
        f"{manifest.get('fediverse_biz_version')} into {settings.data_dir.absolute()} and {where} "
        f"({result.media_files} media files); `fediverse-biz serve` applies any newer migrations when it starts"
    )


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "backup", help="write the database, media and secret key to one archive file (works while serve runs)"
    )
    p.add_argument("file", metavar="FILE", help="the archive to write (a tar file, mode 0600)")
    p.add_argument("--force", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=cmd_backup)

    p = sub.add_parser("restore", help="restore an archive made by backup into an empty data directory")
    p.add_argument("file", metavar="FILE", help="the archive written by fediverse-biz backup")
    # The data directory must stay as it is until restore has checked that it is empty: no secret key made.
    p.set_defaults(func=cmd_restore, sets_up_data_dir=False)
