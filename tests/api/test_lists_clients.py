"""Lists through the real clients against a live server: Mastodon.py (CRUD, members, the list timeline and
its stream) and megalodon (Whalebird's library)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import pytest
from mastodon import MastodonAPIError, StreamListener

from fediverse_biz.api import streaming_hub
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.js_clients import JsClients
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.streaming import DEADLINE, eventually


class UpdateCollector(StreamListener):
    def __init__(self) -> None:
        self.updates: list[Any] = []
        self.opened = threading.Event()

    def on_update(self, status: Any) -> None:
        self.updates.append(status)

    def handle_heartbeat(self) -> None:
        self.opened.set()


@pytest.fixture
def quick_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(streaming_hub, "HEARTBEAT_SECONDS", 0.3)  # so a closed client's thread ends soon


async def test_mastodon_py_manages_reads_and_streams_a_list(
    quick_heartbeat: None, live_server_factory: Callable[..., LiveServer]
) -> None:
    live = await asyncio.to_thread(live_server_factory)
    for name in ("alice", "bob", "carol"):
        await asyncio.to_thread(create_user_sync, live, name)
    alice, bob, carol = [await asyncio.to_thread(password_login, live.base_url, n, PASSWORD)
                         for n in ("alice", "bob", "carol")]  # fmt: skip
    bob_account = await asyncio.to_thread(bob.me)
    carol_account = await asyncio.to_thread(carol.me)
    await asyncio.to_thread(alice.account_follow, bob_account)

    made = await asyncio.to_thread(alice.list_create, "Suppliers", replies_policy="followed")
    assert made["title"] == "Suppliers" and made["replies_policy"] == "followed" and made["exclusive"] is False
    await asyncio.to_thread(alice.list_accounts_add, made, [bob_account])
    with pytest.raises(MastodonAPIError) as refused:
        await asyncio.to_thread(alice.list_accounts_add, made, [carol_account])  # alice does not follow carol
    assert refused.value.args[1] == 422
    assert [a["acct"] for a in await asyncio.to_thread(alice.list_accounts, made)] == ["bob"]
    assert [str(x["id"]) for x in await asyncio.to_thread(alice.account_lists, bob_account)] == [str(made["id"])]
    assert [x["title"] for x in await asyncio.to_thread(alice.lists)] == ["Suppliers"]

    listener = UpdateCollector()
    handle = await asyncio.to_thread(alice.stream_list, made["id"], listener, run_async=True)
    try:
        await eventually(listener.opened.is_set, "Mastodon.py to connect")
        posted = await asyncio.to_thread(bob.status_post, "New price list")
        await eventually(lambda: any(str(u["id"]) == str(posted["id"]) for u in listener.updates), "the list update")
        await asyncio.to_thread(carol.status_post, "not on the list")
        [shown] = await asyncio.to_thread(alice.timeline_list, made)
        assert str(shown["id"]) == str(posted["id"])
        assert [str(u["id"]) for u in listener.updates] == [str(posted["id"])]
    finally:
        handle.close()
        await asyncio.to_thread(handle.join, DEADLINE)
    assert not handle.is_alive()

    updated = await asyncio.to_thread(alice.list_update, made, "Key suppliers", replies_policy="none", exclusive=True)
    assert updated["title"] == "Key suppliers" and updated["exclusive"] is True
    await asyncio.to_thread(alice.list_accounts_delete, made, [bob_account])
    assert await asyncio.to_thread(alice.list_accounts, made) == []
    await asyncio.to_thread(alice.list_delete, made)
    assert await asyncio.to_thread(alice.lists) == []


async def test_megalodon_manages_and_reads_a_list(live_server: LiveServer, js_clients: JsClients) -> None:
    for name in ("alice", "bob"):
        await asyncio.to_thread(create_user_sync, live_server, name)
    alice = await asyncio.to_thread(password_login, live_server.base_url, "alice", PASSWORD)
    bob = await asyncio.to_thread(password_login, live_server.base_url, "bob", PASSWORD)
    bob_account = await asyncio.to_thread(bob.me)
    await asyncio.to_thread(alice.account_follow, bob_account)
    posted = await asyncio.to_thread(bob.status_post, "From the workshop")
    out = await asyncio.to_thread(
        js_clients.run, "megalodon_lists.mjs", BASE_URL=live_server.base_url, TOKEN=str(alice.access_token),
        MEMBER_ID=str(bob_account["id"]),
    )  # fmt: skip
    assert out["created"]["title"] == "Makers"
    assert [a["acct"] for a in out["members"]] == ["bob"]
    assert [s["id"] for s in out["timeline"]] == [str(posted["id"])]
    assert [x["id"] for x in out["accountLists"]] == [out["created"]["id"]]
    assert out["renamed"]["title"] == "Makers and shops"
    assert out["afterDelete"] == []
