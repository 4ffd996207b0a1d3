"""The server under test: `fediverse-biz serve` as a subprocess on its own data directory (embedded
PostgreSQL), started and stopped the way an operator does, timed from spawn to `/healthz` 200.
"""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from fediverse_biz.db.embedded import EmbeddedPostgres

from ._util import children_of, pss_kb, rss_kb

REPO = Path(__file__).resolve().parent.parent
START_TIMEOUT = 180.0  # seconds: initdb on a slow disk, plus migrations
STOP_TIMEOUT = 60.0


class ServerError(Exception):
    """The server under test did not start or stop; the message carries its log's tail."""


def spawn(command: list[str], log_path: Path, *, env: dict[str, str] | None = None,
          cwd: Path | None = None) -> subprocess.Popen[bytes]:
    """Start a child process whose output goes to `log_path` (appended)."""
    with log_path.open("ab") as log:
        return subprocess.Popen(command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)


def cli_command() -> list[str]:
    """The `fediverse-biz` console script of this interpreter's environment (or its module)."""
    script = Path(sys.executable).parent / "fediverse-biz"
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "fediverse_biz.cli"]


def _serve_command() -> list[str]:
    return [*cli_command(), "serve"]


@dataclass
class ServerProcess:
    data_dir: Path
    port: int
    log_path: Path
    extra_env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "postgres"

    def dsn(self, database: str = "fediverse_biz") -> str:
        """The embedded cluster's Unix-socket DSN (db/embedded.py)."""
        return EmbeddedPostgres(self.pgdata).dsn(database)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_") and k != "DATABASE_URL"}
        env.update(
            {
                "FEDIVERSE_BIZ_DOMAIN": f"127.0.0.1:{self.port}",
                "FEDIVERSE_BIZ_SCHEME": "http",
                "FEDIVERSE_BIZ_PORT": str(self.port),
                "FEDIVERSE_BIZ_DATA_DIR": str(self.data_dir),
                "FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES": "127.0.0.0/8",
                "FEDIVERSE_BIZ_ENABLE_PASSWORD_GRANT": "true",
                "FEDIVERSE_BIZ_LOG_LEVEL": "warning",
                # Abuse limits (ratelimit.py) would answer 429 to a load generator that is one client
                # with one token; the benchmarks measure throughput, so they run without them.
                "FEDIVERSE_BIZ_RATE_LIMITS": "false",
            }
        )
        env.update(self.extra_env)
        return env

    @property
    def pid(self) -> int:
        assert self.proc is not None, "server not started"
        return self.proc.pid

    async def start(self) -> float:
        """Spawn `serve` and wait for /healthz 200; returns the seconds that took."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        began = time.perf_counter()
        command = _serve_command()
        self.proc = spawn(command, self.log_path, env=self.environment(), cwd=REPO)
        deadline = began + START_TIMEOUT
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as http:
            while time.perf_counter() < deadline:
                if self.proc.poll() is not None:
                    raise ServerError(f"serve exited with {self.proc.returncode}:\n{self.log_tail()}")
                try:
                    async with http.get(f"{self.base_url}/healthz") as response:
                        if response.status == 200:
                            return time.perf_counter() - began
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.01)
        raise ServerError(f"serve did not answer /healthz within {START_TIMEOUT:.0f} s:\n{self.log_tail()}")

    async def stop(self) -> None:
        """SIGTERM, as an operator's service manager does; `serve` then stops its PostgreSQL."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            await asyncio.to_thread(proc.wait, STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            await asyncio.to_thread(proc.wait, 10)
        # A killed serve leaves its cluster running; a clean one has stopped it already (no-op then).
        await asyncio.to_thread(EmbeddedPostgres(self.pgdata).stop)

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    # ---- memory ---------------------------------------------------------------------------------
    def server_rss_kb(self) -> int:
        return rss_kb(self.pid)

    def postmaster_pid(self) -> int | None:
        try:
            return int((self.pgdata / "postmaster.pid").read_text().splitlines()[0])
        except (OSError, ValueError, IndexError):
            return None

    def postgres_memory_kb(self) -> tuple[int, int, int]:
        """(sum of RSS, sum of PSS, process count) over the postmaster and its children."""
        postmaster = self.postmaster_pid()
        if postmaster is None:
            return 0, 0, 0
        pids = [postmaster, *children_of(postmaster)]
        return sum(rss_kb(p) for p in pids), sum(pss_kb(p) for p in pids), len(pids)
