"""Conversations through the real clients against a live server: Mastodon.py's `conversations`,
`conversations_read` and `stream_direct`, and masto's REST and WebSocket clients (Elk's library)."""

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


class DirectCollector(StreamListener):
    """What Mastodon.py hands a listener on the direct stream (called from the client's own thread)."""

    def __init__(self) -> None:
        self.conversations: list[Any] = []
        self.updates: list[Any] = []
        self.opened = threading.Event()

    def on_conversation(self, conversation: Any) -> None:
        self.conversations.append(conversation)

    def on_update(self, status: Any) -> None:
        self.updates.append(status)

    def handle_heartbeat(self) -> None:
        self.opened.set()  # our greeting comment arrives as soon as the subscription is live


@pytest.fixture
def quick_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming_hub, "HEARTBEAT_SECONDS", 0.3)  # so a closed client's thread ends soon


async def test_mastodon_py_lists_reads_and_streams_conversations(
    quick_heartbeat: None, live_server_factory: Callable[..., LiveServer]
) -> None:
    live = await asyncio.to_thread(live_server_factory)
    for name in ("alice", "bob", "carol"):
        await asyncio.to_thread(create_user_sync, live, name)
    alice = await asyncio.to_thread(password_login, live.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live.base_url, "bob", PASSWORD)
    carol = await asyncio.to_thread(password_login, live.base_url, "carol", PASSWORD)
    listener = DirectCollector()
    handle = await asyncio.to_thread(alice.stream_direct, listener, run_async=True)
    try:
        await eventually(listener.opened.is_set, "Mastodon.py to connect")
        sent = await asyncio.to_thread(bob.status_post, "@alice the contract is ready", visibility="direct")
        await eventually(lambda: bool(listener.conversations), "on_conversation")
        pushed = listener.conversations[0]
        assert str(pushed["last_status"]["id"]) == str(sent["id"])
        assert pushed["unread"] is True and [a["acct"] for a in pushed["accounts"]] == ["bob"]
        # a public post mentioning alice is no conversation: nothing more arrives for it on this stream
        await asyncio.to_thread(carol.status_post, "@alice hello in public")

        [listed] = await asyncio.to_thread(alice.conversations)
        assert str(listed["id"]) == str(pushed["id"]) and listed["unread"] is True
        read = await asyncio.to_thread(alice.conversations_read, listed)
        assert read["unread"] is False
        # Mastodon pushes every saved change of a conversation: the read state arrives too
        await eventually(lambda: len(listener.conversations) == 2, "the read conversation")
        assert listener.conversations[1]["unread"] is False
        assert (await asyncio.to_thread(alice.conversations))[0]["unread"] is False
        assert listener.updates == []  # the direct stream carries conversations, not updates
        assert await asyncio.to_thread(carol.conversations) == []
    finally:
        handle.close()
        await asyncio.to_thread(handle.join, DEADLINE)
    assert not handle.is_alive()


async def test_masto_lists_reads_removes_and_streams(live_server: LiveServer, js_clients: JsClients) -> None:
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live_server, name)
    alice = await asyncio.to_thread(password_login, live_server.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live_server.base_url, "bob", PASSWORD)
    out = await asyncio.to_thread(
        js_clients.run,
        "masto_conversations.mjs",
        BASE_URL=live_server.base_url,
        TOKEN=str(alice.access_token),
        OTHER_TOKEN=str(bob.access_token),
        READER_ACCT="alice",
    )
    streamed = out["streamed"]
    assert streamed["event"] == "conversation"
    assert streamed["payload"]["lastStatus"]["id"] in out["sent"]
    assert [a["acct"] for a in streamed["payload"]["accounts"]] == ["bob"]
    assert [c["id"] for c in out["listed"]] == [streamed["payload"]["id"]]
    assert out["listed"][0]["unread"] is True and out["read"]["unread"] is False
    assert out["after"] == []
