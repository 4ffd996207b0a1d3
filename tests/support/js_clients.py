"""Running the real JavaScript client libraries (tests/js/package.json) against a live server.

Whalebird and other desktop apps are built on megalodon, Elk and Phanpy-style web clients on masto;
driving those libraries shows what those apps see. The `js_clients` fixture installs them from the
lockfile (`npm ci`) once per session when tests/js/node_modules is missing or older than the lockfile,
so a fresh clone and CI need nothing but node and npm. Each test runs a small script from tests/js/
with the server's address and a token in its environment; the script prints one JSON document.

    def test_x(live_server, js_clients):
        out = js_clients.run("detector.mjs", BASE_URL=live_server.base_url)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

JS_DIR = Path(__file__).resolve().parent.parent / "js"
LOCKFILE = JS_DIR / "package-lock.json"
MODULES = JS_DIR / "node_modules"
# npm writes this after every successful install: its time says when the tree was last installed.
INSTALLED_MARKER = MODULES / ".package-lock.json"
SCRIPT_TIMEOUT_SECONDS = 60


def needs_install() -> bool:
    return not INSTALLED_MARKER.exists() or INSTALLED_MARKER.stat().st_mtime < LOCKFILE.stat().st_mtime


def install() -> None:
    npm = shutil.which("npm")
    if npm is None:
        raise RuntimeError("npm is needed by the JavaScript client tests (node 20 and npm)")
    result = subprocess.run(
        [npm, "ci", "--prefix", str(JS_DIR), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"npm ci failed:\n{result.stdout}\n{result.stderr}")


@dataclass(frozen=True)
class JsClients:
    node: str

    def run(self, script: str, **env: str) -> Any:
        """Run tests/js/`script` with `env` added to a clean environment; return the JSON it printed.
        A script that fails (an exception in the client library) fails the test with its stderr."""
        result = subprocess.run(
            [self.node, str(JS_DIR / script)],
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT_SECONDS,
            check=False,
            cwd=JS_DIR,
            env={"PATH": os.environ.get("PATH", ""), "HOME": os.environ.get("HOME", "/tmp"), **env},
        )
        if result.returncode != 0:
            raise AssertionError(f"{script} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
        return json.loads(result.stdout)


@pytest.fixture(scope="session")
def js_clients() -> JsClients:
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("node is needed by the JavaScript client tests (node 20 and npm)")
    if needs_install():
        install()
    return JsClients(node)
