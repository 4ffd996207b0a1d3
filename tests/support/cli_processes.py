"""Running the `fediverse-biz` command as real processes, as an operator would: shared by the CLI tests."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

PASSWORD = "a long enough password"
START_WITHIN = 60.0  # seconds a process may take to start on a loaded machine


def cli_env(data_dir: Path, port: int | None = None, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FEDIVERSE_BIZ_") and k != "DATABASE_URL"}
    env["FEDIVERSE_BIZ_DATA_DIR"] = str(data_dir)
    if port is not None:
        env["FEDIVERSE_BIZ_PORT"] = str(port)
        env["FEDIVERSE_BIZ_DOMAIN"] = f"127.0.0.1:{port}"
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "fediverse_biz.cli", *args],
        env=env, input=stdin, capture_output=True, text=True, timeout=120,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line for line in result.stderr.splitlines() if "fediverse-biz" in line]
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Served:
    def __init__(self, env: dict[str, str], port: int) -> None:
        self.env, self.port = env, port
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "fediverse_biz.cli", "serve"], env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"serve exited: {self.proc.stderr.read() if self.proc.stderr else ''}")
            try:
                if httpx.get(self.url("/healthz"), timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise AssertionError("serve did not become healthy")

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def stop(self, sig: int = signal.SIGTERM) -> str:
        self.proc.send_signal(sig)
        _, err = self.proc.communicate(timeout=60)
        return err


@pytest.fixture
def served() -> Iterator[list[Served]]:
    """The `Served` processes a test starts (append them); any still running is killed afterwards."""
    running: list[Served] = []
    yield running
    for s in running:
        if s.proc.poll() is None:
            s.stop(signal.SIGKILL)


# ---- several processes on one database (tests/test_scale_out.py and the streaming tests) ----------------
class Process:
    """A `fediverse-biz` command run in the background, its output kept in files (a pipe nobody reads
    would fill up and stall it)."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], logs: Path) -> None:
        self.name = name
        self.out_path, self.err_path = logs / f"{name}.out", logs / f"{name}.err"
        with self.out_path.open("w") as out, self.err_path.open("w") as err:
            self.proc = subprocess.Popen([sys.executable, "-m", "fediverse_biz.cli", *args], env=env,
                                         stdout=out, stderr=err)

    def output(self) -> str:
        return self.out_path.read_text()

    def log(self) -> str:
        return f"--- {self.name} stdout\n{self.output()}--- {self.name} stderr\n{self.err_path.read_text()}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.alive():
            self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            return self.proc.wait()


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Every process a test starts is gone after it, whatever happened."""
    running: list[Process] = []
    yield running
    for p in running:
        if p.alive():
            p.proc.kill()
            p.proc.wait()


async def until(check: Any, what: str, within: float, *watched: Process) -> Any:
    """Poll `check` (sync or async) until it is truthy; fail at once if a watched process died."""
    deadline = time.monotonic() + within
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        for p in watched:
            if not p.alive():
                raise AssertionError(f"{p.name} exited while waiting for {what}\n{p.log()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n" + "\n".join(p.log() for p in watched))
        await asyncio.sleep(0.05)


@asynccontextmanager
async def client(port: int, domain: str, http_timeout: float | httpx.Timeout = 10) -> AsyncIterator[httpx.AsyncClient]:
    # The Host header of the public domain, as the proxy in front of the web processes sends it.
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", headers={"Host": domain},
                                 timeout=http_timeout) as http:
        yield http


async def healthy(http: httpx.AsyncClient) -> bool:
    try:
        return (await http.get("/healthz")).status_code == 200
    except httpx.TransportError:
        return False
