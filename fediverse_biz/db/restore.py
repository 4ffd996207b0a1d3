"""Restore of an archive made by db/backup.py into an empty data directory (and, with DATABASE_URL, an
empty database): the manifest is checked first, then a fresh cluster is initialised, the dump loaded with
the embedded distribution's own pg_restore in one transaction, and the media and secret key put back.
Whatever a failed restore created is removed, so it can simply be run again.

    result = await restore(settings, Path("site.tar"))
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import shutil
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO, Any

import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.db import migrations
from fediverse_biz.db.backup import (
    DUMP_NAME,
    FORMAT,
    FORMAT_VERSION,
    MANIFEST_NAME,
    MEDIA_PREFIX,
    SECRET_NAME,
    BackupError,
    DatabaseConnection,
    run_program,
)
from fediverse_biz.db.database import APP_DATABASE, ensure_database, start_embedded
from fediverse_biz.db.embedded import client_program

# What a data directory may hold and still count as empty for a restore: the operator's settings, the
# lock file a stopped `serve` leaves behind, and empty directories.
_ALLOWED_IN_EMPTY = frozenset({"config.toml", "serve.lock"})
_MANIFEST_LIMIT = 64 * 1024
_SECRET_LIMIT = 4096
_COPY_CHUNK = 1024 * 1024


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict[str, Any]
    media_files: int
    warnings: list[str] = field(default_factory=list)


async def restore(settings: Settings, archive: Path) -> RestoreResult:
    """Restore `archive` into the empty data directory (and, with DATABASE_URL, the empty database there).

    `settings` are as loaded, before the data directory is set up (the CLI skips that for restore): so a
    `secret_key` in them comes from FEDIVERSE_BIZ_SECRET_KEY or config.toml, and wins over the restored file.
    A key file this restore wrote is removed again if it fails, so a retry is not refused.
    """
    key_set_outside = bool(settings.secret_key)
    key_file = settings.data_dir / SECRET_NAME
    key_existed = await asyncio.to_thread(key_file.exists)
    try:
        await asyncio.to_thread(settings.data_dir.mkdir, parents=True, exist_ok=True)
        manifest, media_files = await _restore(settings, archive)
    except BaseException:
        if not key_existed:
            await asyncio.to_thread(key_file.unlink, missing_ok=True)
        raise
    warnings = _warnings(settings, manifest, key_set_outside)
    return RestoreResult(manifest, media_files, warnings)


async def _restore(settings: Settings, archive: Path) -> tuple[dict[str, Any], int]:
    archive, tar = await asyncio.to_thread(_open_archive, archive)
    with tar:
        manifest = await asyncio.to_thread(_read_manifest, tar, archive)
        _check_schema_known(manifest)
        async with _hold_serve_lock(settings):
            await asyncio.to_thread(_check_data_dir_empty, settings)
            async with _restore_target(settings) as target:
                target_version = await _target_server_version(target, settings)
                backed_up = int(manifest.get("postgresql_server_version_num") or 0)
                if backed_up // 10000 > target_version // 10000:
                    raise BackupError(
                        f"the backup is of PostgreSQL {backed_up // 10000} and {target.where} is PostgreSQL "
                        f"{target_version // 10000}: restore into version {backed_up // 10000} or newer"
                    )
                try:
                    media_files = await asyncio.to_thread(_unpack_and_restore, settings, tar, archive, target)
                    await _check_restored(target)
                except BaseException:
                    await asyncio.to_thread(_remove_media, settings.media_path)
                    raise
    return manifest, media_files


def _warnings(settings: Settings, manifest: dict[str, Any], key_set_outside: bool) -> list[str]:
    """What the operator must still do by hand after a successful restore."""
    warnings: list[str] = []
    if manifest.get("secret_key") == "external":
        if key_set_outside:
            warnings.append(
                "the backed-up server took its secret key from FEDIVERSE_BIZ_SECRET_KEY (not in the archive): "
                "make sure it has the same value here, or web sessions end (everyone is signed out)"
            )
        else:
            warnings.append(
                "the backed-up server took its secret key from FEDIVERSE_BIZ_SECRET_KEY (not in the archive): "
                "set the same value before starting serve, or web sessions end (everyone is signed out)"
            )
    elif key_set_outside:
        warnings.append(
            "FEDIVERSE_BIZ_SECRET_KEY is set and overrides the restored secret_key file; unset it to use "
            "the backed-up key"
        )
    if manifest.get("domain") and manifest["domain"] != settings.domain:
        warnings.append(
            f"the backup is of {manifest['domain']} but FEDIVERSE_BIZ_DOMAIN is {settings.domain}: actor ids "
            f"and signatures name {manifest['domain']}; set FEDIVERSE_BIZ_DOMAIN={manifest['domain']} before serve"
        )
    return warnings


def _open_archive(archive: Path) -> tuple[Path, tarfile.TarFile]:
    archive = archive.expanduser().absolute()
    if not archive.is_file():
        raise BackupError(f"{archive}: no such file")
    try:
        # r:* also reads an archive the operator compressed afterwards (gzip, bzip2, xz).
        return archive, tarfile.open(archive, "r:*")
    except (tarfile.TarError, OSError, EOFError):
        raise BackupError(f"{archive} is not a fediverse_biz backup") from None


def _read_manifest(tar: tarfile.TarFile, archive: Path) -> dict[str, Any]:
    not_ours = BackupError(f"{archive} is not a fediverse_biz backup")
    try:
        member = tar.next()
        if member is None or member.name != MANIFEST_NAME or not member.isfile() or member.size > _MANIFEST_LIMIT:
            raise not_ours
        fh = tar.extractfile(member)
        manifest = json.loads(fh.read()) if fh is not None else None
    except (tarfile.TarError, OSError, EOFError, ValueError):
        raise not_ours from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise not_ours
    version = manifest.get("format_version")
    if not isinstance(version, int) or version < 1:
        raise not_ours
    if version > FORMAT_VERSION:
        raise BackupError(
            f"{archive} is a backup of format {version}, made by fediverse_biz "
            f"{manifest.get('fediverse_biz_version', '?')}; this release reads format {FORMAT_VERSION} "
            "and older: install that release (or newer) to restore it"
        )
    return manifest


def _check_schema_known(manifest: dict[str, Any]) -> None:
    """A backup migrated by a newer release would be refused by `serve` after a long restore: refuse now."""
    latest = max(m.version for m in migrations.discover())
    backed_up = manifest.get("schema_migration")
    if isinstance(backed_up, int) and backed_up > latest:
        raise BackupError(
            f"the backup's database has migration {backed_up:04d}, which this release does not know: it was "
            f"made by fediverse_biz {manifest.get('fediverse_biz_version', '?')}; install that release (or newer)"
        )


@contextlib.asynccontextmanager
async def _hold_serve_lock(settings: Settings) -> AsyncIterator[None]:
    """Keep a `serve` from starting on the directory (and adopting the cluster) half-way through."""
    path = settings.data_dir / "serve.lock"
    fh = await asyncio.to_thread(path.open, "a")
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BackupError(f"a fediverse-biz serve is using {settings.data_dir.absolute()}; stop it first") from None
        yield
    finally:
        fh.close()


def _check_data_dir_empty(settings: Settings) -> None:
    data_dir = settings.data_dir.absolute()
    refusal = "restore only into an empty data directory (move this one away, or set FEDIVERSE_BIZ_DATA_DIR)"
    for entry in sorted(data_dir.iterdir()):
        if entry.name in _ALLOWED_IN_EMPTY:
            continue
        if entry.is_dir() and not entry.is_symlink() and not _holds_files(entry):
            continue
        shown = entry.name + ("/" if entry.is_dir() else "")
        raise BackupError(f"{data_dir} is not empty (it holds {shown}); {refusal}")
    media = settings.media_path.absolute()
    if media.exists() and not media.is_relative_to(data_dir) and _holds_files(media):
        raise BackupError(f"the media directory {media} is not empty; {refusal}")


def _holds_files(directory: Path) -> bool:
    """Anything but empty directories; a directory we cannot read counts as holding something."""
    try:
        for _, _, files in os.walk(directory, onerror=_raise):
            if files:
                return True
    except OSError:
        return True
    return False


def _raise(exc: OSError) -> None:
    raise exc


@contextlib.asynccontextmanager
async def _restore_target(settings: Settings) -> AsyncIterator[DatabaseConnection]:
    """The database to restore into: an empty one at DATABASE_URL, or a freshly initialised embedded cluster
    (removed again if the restore fails, so that the directory is empty for a retry)."""
    if settings.database_url:
        yield DatabaseConnection.from_url(settings.database_url)
        return
    server = await start_embedded(settings)  # initdb, as serve's first start does
    ok = False
    try:
        await ensure_database(server.dsn("postgres"), APP_DATABASE)
        yield DatabaseConnection.embedded(server)
        ok = True
    finally:
        if server.started_here:
            await asyncio.to_thread(server.stop)
        if not ok:
            await asyncio.to_thread(shutil.rmtree, server.pgdata, ignore_errors=True)


async def _target_server_version(target: DatabaseConnection, settings: Settings) -> int:
    """The server's version number; with DATABASE_URL also refuses a database that holds anything."""
    conn = await asyncpg.connect(target.dsn)
    try:
        version = int(await conn.fetchval("SHOW server_version_num"))
        if settings.database_url:
            objects = await conn.fetchval(
                """SELECT (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema')
                              AND n.nspname NOT LIKE 'pg\\_toast%' AND n.nspname NOT LIKE 'pg\\_temp%')
                        + (SELECT count(*) FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                            WHERE n.nspname NOT IN ('pg_catalog', 'information_schema'))"""
            )
            if objects:
                name = await conn.fetchval("SELECT current_database()")
                raise BackupError(
                    f"the database {name} at DATABASE_URL is not empty; restore only into an empty database"
                )
    finally:
        await conn.close()
    return version


def _unpack_and_restore(settings: Settings, tar: tarfile.TarFile, archive: Path, target: DatabaseConnection) -> int:
    """Read the rest of the archive in one pass (it may be compressed: no seeking back) — secret key, dump,
    media — then pg_restore the dump. Returns the number of media files."""
    media_root = settings.media_path.absolute()
    media_root.mkdir(parents=True, exist_ok=True)
    fd, scratch_name = tempfile.mkstemp(dir=settings.data_dir, prefix=".restore.", suffix=".dump")
    os.close(fd)
    scratch = Path(scratch_name)
    have_dump, media_files = False, 0
    try:
        for member in _members(tar, archive):
            if member.name == SECRET_NAME and member.isfile() and member.size <= _SECRET_LIMIT:
                _write_secret(settings.data_dir / SECRET_NAME, _read_member(tar, member))
            elif member.name == DUMP_NAME and member.isfile():
                with _member_stream(tar, member) as src, scratch.open("wb") as dst:
                    shutil.copyfileobj(src, dst, _COPY_CHUNK)
                have_dump = True
            elif member.name.startswith(MEDIA_PREFIX):
                if member.isdir():
                    continue
                relative = _safe_relative(member, archive)
                destination = media_root.joinpath(*relative.parts)
                destination.parent.mkdir(parents=True, exist_ok=True)
                with _member_stream(tar, member) as src, destination.open("xb") as dst:
                    shutil.copyfileobj(src, dst, _COPY_CHUNK)
                media_files += 1
        if not have_dump:
            raise BackupError(f"{archive} holds no database dump: it is incomplete")
        run_program(
            [
                str(client_program("pg_restore")),
                # Objects belong to whoever restores (the DATABASE_URL user need not be a superuser) …
                "--no-owner", "--no-privileges",
                # … and the restore is all or nothing, so a failure leaves an empty database.
                "--exit-on-error", "--single-transaction", "--no-password",
                f"--dbname={target.conninfo}", str(scratch),
            ],
            target.env, "pg_restore",
        )
    finally:
        scratch.unlink(missing_ok=True)
    return media_files


def _members(tar: tarfile.TarFile, archive: Path) -> Iterator[tarfile.TarInfo]:
    while True:
        try:
            member = tar.next()
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise BackupError(f"{archive} is damaged: {exc}") from None
        if member is None:
            return
        yield member


def _safe_relative(member: tarfile.TarInfo, archive: Path) -> PurePosixPath:
    """A media file's path below media/, refusing anything that could write elsewhere."""
    relative = PurePosixPath(member.name[len(MEDIA_PREFIX):])
    if (
        not member.isfile()
        or not relative.parts
        or relative.is_absolute()
        or any(part in ("", ".", "..") for part in relative.parts)
    ):
        raise BackupError(f"{archive} holds an unexpected entry {member.name!r}, which backup never writes")
    return relative


@contextlib.contextmanager
def _member_stream(tar: tarfile.TarFile, member: tarfile.TarInfo) -> Iterator[IO[bytes]]:
    fh = tar.extractfile(member)
    if fh is None:
        raise BackupError(f"cannot read {member.name} from the archive")
    with fh:
        yield fh


def _read_member(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    with _member_stream(tar, member) as fh:
        return fh.read()


def _write_secret(path: Path, content: bytes) -> None:
    partial = path.with_name(path.name + ".tmp")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(content)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(partial, path)


def _remove_media(root: Path) -> None:
    """Undo a failed restore's media: the directory held no files before (checked), so all of them are ours."""
    if not root.is_dir():
        return
    for entry in root.iterdir():
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)


async def _check_restored(target: DatabaseConnection) -> None:
    """`serve` applies the migrations a newer release adds; that needs schema_migrations to have come along."""
    conn = await asyncpg.connect(target.dsn)
    try:
        versions = await migrations.applied_versions(conn)
    finally:
        await conn.close()
    if not versions:
        raise BackupError(f"the restored database has no schema_migrations table; {target.where} was left as restored")
