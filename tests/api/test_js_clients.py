"""The JavaScript client libraries apps are built on, against a live server: megalodon (Whalebird)
must detect us as Mastodon through NodeInfo, and masto (Elk) must log in."""

from __future__ import annotations

import asyncio

from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.js_clients import JsClients
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer


async def _token(server: LiveServer, username: str) -> str:
    await asyncio.to_thread(create_user_sync, server, username)
    api = await asyncio.to_thread(password_login, server.base_url, username, PASSWORD)
    return str(api.access_token)


async def test_megalodon_detects_mastodon_and_logs_in(live_server: LiveServer, js_clients: JsClients) -> None:
    token = await _token(live_server, "whale")
    out = await asyncio.to_thread(js_clients.run, "megalodon_detect.mjs", BASE_URL=live_server.base_url, TOKEN=token)
    assert out == {"sns": "mastodon", "username": "whale"}


async def test_masto_verifies_credentials(live_server: LiveServer, js_clients: JsClients) -> None:
    token = await _token(live_server, "elk")
    me = await asyncio.to_thread(js_clients.run, "masto_verify.mjs", BASE_URL=live_server.base_url, TOKEN=token)
    assert me["username"] == "elk" and me["acct"] == "elk"
    assert me["source"]["privacy"] == "public"
    assert "displayName" in me  # masto turned the entity's snake_case into its camelCase: it parsed it
