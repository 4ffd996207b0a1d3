"""Reports, domain blocks, account notes and removing profile images through the JavaScript libraries that
web and desktop apps are built on: masto (Elk, Phanpy) and megalodon (Whalebird), against a live server."""

from __future__ import annotations

import asyncio

from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.images import png
from tests.support.js_clients import JsClients
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer


async def _two_users(live_server: LiveServer) -> tuple[str, str, str]:
    """(alice's token, bob's account id, one of bob's status ids)."""
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live_server, name)
    alice = await asyncio.to_thread(password_login, live_server.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live_server.base_url, "bob", PASSWORD)
    await asyncio.to_thread(alice.account_update_credentials, avatar=png((300, 300)), avatar_mime_type="image/png")
    status = await asyncio.to_thread(bob.status_post, "cheap watches")
    return str(alice.access_token), str((await asyncio.to_thread(bob.me))["id"]), str(status["id"])


async def test_masto_reports_blocks_domains_notes_and_removes_images(
    live_server: LiveServer, js_clients: JsClients
) -> None:
    alice_token, bob_id, status_id = await _two_users(live_server)
    out = await asyncio.to_thread(js_clients.run, "masto_personal.mjs", BASE_URL=live_server.base_url,
                                  TOKEN=alice_token, ACCOUNT_ID=bob_id, STATUS_ID=status_id)  # fmt: skip
    report = out["report"]
    assert report["category"] == "spam" and report["statusIds"] == [status_id]
    assert report["targetAccount"]["id"] == bob_id and report["forwarded"] is False
    assert out["blocked"] == ["ads.example"]
    assert out["firstPages"][:2] == [["ads.example"], ["spam.example"]]  # followed the Link header
    assert out["afterRemove"] == ["ads.example"]
    assert out["noted"]["id"] == bob_id and out["noted"]["note"] == "pays late"
    assert out["withoutAvatar"]["avatar"].endswith("/static/default-avatar.png")
    assert out["withoutHeader"]["header"].endswith("/static/default-header.png")


async def test_megalodon_reports_and_blocks_domains(live_server: LiveServer, js_clients: JsClients) -> None:
    alice_token, bob_id, status_id = await _two_users(live_server)
    out = await asyncio.to_thread(js_clients.run, "megalodon_personal.mjs", BASE_URL=live_server.base_url,
                                  TOKEN=alice_token, ACCOUNT_ID=bob_id, STATUS_ID=status_id)  # fmt: skip
    assert out["report"]["category"] == "other" and out["report"]["comment"] == "fake offers"
    assert out["report"]["status_ids"] == [status_id] and out["report"]["target_account"]["id"] == bob_id
    assert out["blocked"] == ["spam.example"] and out["afterRemove"] == []
