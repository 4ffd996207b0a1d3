"""toot 0.52's command line, run as a subprocess against a live server with its own config directory.

toot keeps its config in $XDG_CONFIG_HOME/toot/config.json (toot/__init__.py get_config_dir), so
each test gets a fresh one; TOOT_TESTING must stay unset or toot refuses to read its config.
`login_cli` uses the password grant, which the test servers enable (Mastodon removed it in 4.4.0, so
production servers do not).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from fediverse_biz.db.pool import create_pool
from tests.support.accounts import PASSWORD, create_user_sync, run_sync
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer

TOOT = Path(sys.executable).parent / "toot"


def query(server: LiveServer, sql: str, *args: object) -> list[dict[str, Any]]:
    async def fetch() -> list[dict[str, Any]]:
        pool = await create_pool(server.dsn, min_size=1, max_size=1)
        try:
            return [dict(r) for r in await pool.fetch(sql, *args)]
        finally:
            await pool.close()

    return run_sync(fetch)


class Toot:
    def __init__(self, config_home: Path) -> None:
        self.env = {k: v for k, v in os.environ.items() if k != "TOOT_TESTING"}
        self.env.update(XDG_CONFIG_HOME=str(config_home), NO_COLOR="1", COLUMNS="120", TERM="dumb")

    def __call__(self, *args: str) -> str:
        done = subprocess.run(
            [str(TOOT), *args], env=self.env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL
        )
        assert done.returncode == 0, f"toot {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}"
        return done.stdout


@pytest.fixture
def toot(live_server: LiveServer, tmp_path: Path) -> Toot:
    create_user_sync(live_server, "alice")
    create_user_sync(live_server, "bob")
    cli = Toot(tmp_path / "config")
    out = cli("login_cli", "-i", live_server.base_url, "-e", "alice@example.com", "-p", PASSWORD)
    assert "Successfully logged in" in out
    config = json.loads((tmp_path / "config" / "toot" / "config.json").read_text())
    assert list(config["users"]) == [f"alice@{live_server.settings.domain}"]
    return cli


def test_post_follow_timeline_and_notifications(toot: Toot, live_server: LiveServer) -> None:
    # when alice posts with toot (JSON body + Idempotency-Key)
    out = toot("post", "Fresh stock of #valves from toot")
    assert "Toot posted" in out
    [row] = query(
        live_server,
        """SELECT s.id, s.source_text, s.visibility, a.name AS app FROM statuses s
             JOIN oauth_apps a ON a.id = s.application_id""",
    )
    assert row["source_text"] == "Fresh stock of #valves from toot" and row["visibility"] == "public"
    assert row["app"].startswith("toot")
    assert str(row["id"]) in out  # toot prints the status URL

    # and follows bob (v2 search with resolve=true, then follow with an empty body)
    assert "You are now following bob" in toot("follow", "bob")
    assert query(
        live_server,
        """SELECT 1 FROM follows f JOIN actors a ON a.id = f.actor_id JOIN actors b ON b.id = f.target_actor_id
            WHERE a.username = 'alice' AND b.username = 'bob'""",
    )

    # then bob's posts reach her home timeline, as toot shows it
    bob = password_login(live_server.base_url, "bob", PASSWORD)
    bob.status_post("Bob's workshop opens on Monday")
    timeline = toot("timeline", "--once", "--count", "5")
    assert "Bob's workshop opens on Monday" in timeline and "Fresh stock of" in timeline
    assert timeline.index("Bob's workshop") < timeline.index("Fresh stock of")  # newest first
    assert "valves" in toot("timeline", "--tag", "valves", "--once")

    # and what bob does to her shows up in her notifications
    bob.status_favourite(row["id"])
    bob.status_post("@alice see you there")
    notes = toot("notifications")
    assert "bob" in notes and "see you there" in notes and "favourited" in notes.lower()
    assert "mentioned you" not in toot("notifications", "--type", "favourite").lower()
    assert "Notifications cleared" in toot("notifications", "--clear")
    assert "You have no notifications" in toot("notifications")
    assert not query(
        live_server, "SELECT 1 FROM notifications n JOIN actors a ON a.id = n.actor_id WHERE a.username = 'alice'"
    )
    assert query(live_server, "SELECT 1 FROM notifications")  # bob's (alice followed him) are his own
