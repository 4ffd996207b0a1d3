"""Running the `fediverse-biz` command as real processes, as an operator would: shared by the CLI tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

PASSWORD = "a long enough password"


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
