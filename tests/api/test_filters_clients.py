"""Filters through the real clients against a live server: Mastodon.py (v1 and v2 calls, the home
timeline, and the user stream: filters_changed, warned statuses with `filtered`, hidden ones never sent)
and masto (Elk's library)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from mastodon import StreamListener

from fediverse_biz.api import streaming_hub
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.js_clients import JsClients
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.streaming import DEADLINE, eventually


class UserCollector(StreamListener):
    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.filters_changed = 0
        self.opened = threading.Event()

    def on_update(self, status: Any) -> None:
        self.updates.append(status)

    def on_filters_changed(self) -> None:
        self.filters_changed += 1

    def handle_heartbeat(self) -> None:
        self.opened.set()


@pytest.fixture
def quick_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming_hub, "HEARTBEAT_SECONDS", 0.3)  # so a closed client's thread ends soon


async def test_mastodon_py_filters_timeline_and_stream(
    quick_heartbeat: None, live_server_factory: Callable[..., LiveServer]
) -> None:
    live = await asyncio.to_thread(live_server_factory)
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live, name)
    alice = await asyncio.to_thread(password_login, live.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live.base_url, "bob", PASSWORD)
    await asyncio.to_thread(alice.account_follow, await asyncio.to_thread(bob.me))
    listener = UserCollector()
    handle = await asyncio.to_thread(alice.stream_user, listener, run_async=True)
    try:
        await eventually(listener.opened.is_set, "Mastodon.py to connect")
        hide = await asyncio.to_thread(alice.create_filter_v2, "Spoilers", ["home"], "hide",
                                       keywords_attributes=[{"keyword": "spoiler", "whole_word": True}])  # fmt: skip
        await eventually(lambda: listener.filters_changed >= 1, "filters_changed")
        warn = await asyncio.to_thread(alice.filter_create, "invoice", ["home"])  # v1: one keyword, warn
        assert warn["phrase"] == "invoice" and warn["irreversible"] is False
        assert sorted(f["title"] for f in await asyncio.to_thread(alice.filters_v2)) == ["Spoilers", "invoice"]
        assert [f["phrase"] for f in await asyncio.to_thread(alice.filters)] == ["spoiler", "invoice"]

        hidden = await asyncio.to_thread(bob.status_post, "A spoiler about the merger")
        warned = await asyncio.to_thread(bob.status_post, "The invoice is attached")
        await eventually(lambda: any(str(u["id"]) == str(warned["id"]) for u in listener.updates), "the warned one")
        [streamed] = [u for u in listener.updates if str(u["id"]) == str(warned["id"])]
        assert streamed["filtered"][0]["keyword_matches"] == ["invoice"]
        assert all(str(u["id"]) != str(hidden["id"]) for u in listener.updates)  # sent before it, never delivered

        home = await asyncio.to_thread(alice.timeline_home)
        assert [str(s["id"]) for s in home] == [str(warned["id"])]
        assert home[0]["filtered"][0]["filter"]["title"] == "invoice"
        await asyncio.to_thread(alice.delete_filter_v2, hide)
        assert str(hidden["id"]) in [str(s["id"]) for s in await asyncio.to_thread(alice.timeline_home)]
    finally:
        handle.close()
        await asyncio.to_thread(handle.join, DEADLINE)
    assert not handle.is_alive()


async def test_masto_creates_a_filter_and_reads_filtered_statuses(
    live_server: LiveServer, js_clients: JsClients
) -> None:
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live_server, name)
    alice = await asyncio.to_thread(password_login, live_server.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live_server.base_url, "bob", PASSWORD)
    await asyncio.to_thread(alice.account_follow, await asyncio.to_thread(bob.me))
    posted = await asyncio.to_thread(bob.status_post, "Quarterly invoice run")
    out = await asyncio.to_thread(js_clients.run, "masto_filters.mjs", BASE_URL=live_server.base_url,
                                  TOKEN=str(alice.access_token))  # fmt: skip
    assert out["created"]["filterAction"] == "warn" and out["created"]["keywords"][0]["keyword"] == "invoice"
    assert [f["id"] for f in out["listed"]] == [out["created"]["id"]]
    [status] = [s for s in out["home"] if s["id"] == str(posted["id"])]
    assert status["filtered"][0]["filter"]["id"] == out["created"]["id"]
    assert status["filtered"][0]["keywordMatches"] == ["invoice"]
    assert out["afterRemove"] == []
