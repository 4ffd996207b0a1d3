"""GET /api/v2/search: accounts, hashtags, full-text statuses, resolving URLs and handles."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, create_user_sync
from tests.support.factories import post, remote_actor
from tests.support.mastodon_client import password_login
from tests.support.servers import LiveServer
from tests.support.social import checked, error, member, validating_session


async def search(client: httpx.AsyncClient, headers: dict[str, str] | None = None, **params: str) -> dict[str, list]:
    body: dict[str, list] = await checked(client.get("/api/v2/search", params=params, headers=headers), "search")
    return body


def ids(items: list[dict[str, str]]) -> list[str]:
    return [item["id"] for item in items]


async def test_accounts_by_handle_and_display_name(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    alicia = await member(db, urls, "alicia")
    await db.pool.execute("UPDATE actors SET display_name = 'Valve Works GmbH' WHERE id = $1", alicia.id)
    remote = await remote_actor(db.pool, "alice", "remote.example")
    found = await search(client, q="alice", type="accounts")
    assert ids(found["accounts"]) == [alice.account_id, str(remote["id"])]  # exact local first
    assert found["statuses"] == [] and found["hashtags"] == []
    assert ids((await search(client, q="ali"))["accounts"])[:2] == [alice.account_id, alicia.account_id]
    assert ids((await search(client, q="@alice@remote.example"))["accounts"]) == [str(remote["id"])]
    assert ids((await search(client, q="alice@remote"))["accounts"]) == [str(remote["id"])]
    assert ids((await search(client, q="alice@127.0.0.1"))["accounts"]) == [alice.account_id]
    assert ids((await search(client, q="valve works"))["accounts"]) == [alicia.account_id]
    assert ids((await search(client, q="100%_"))["accounts"]) == []  # LIKE wildcards are literal
    # following=true: only accounts the searcher follows
    await follows.follow(db.pool, alicia.actor, alice.actor)
    assert ids((await search(client, alicia.headers, q="alice", following="true"))["accounts"]) == [alice.account_id]
    assert ids((await search(client, q="ali", limit="1"))["accounts"]) == [alice.account_id]
    # blocks hide accounts from each other, both ways
    await follows.block(db.pool, alice.actor, alicia.actor)
    assert alice.account_id not in ids((await search(client, alicia.headers, q="ali"))["accounts"])
    assert alicia.account_id not in ids((await search(client, alice.headers, q="ali"))["accounts"])


async def test_hashtags(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    await post(db.pool, urls, alice.actor, "#TradeFairs #trade #Tradesmen")
    found = await search(client, q="#trade")
    assert [t["name"] for t in found["hashtags"]] == ["trade", "Tradesmen", "TradeFairs"]  # exact, then shortest
    assert all(t["history"] == [] and t["following"] is False for t in found["hashtags"])
    assert found["accounts"] == []  # `#` searches no accounts
    assert [t["name"] for t in (await search(client, q="tradef", type="hashtags"))["hashtags"]] == ["TradeFairs"]
    assert (await search(client, q="trade@x"))["hashtags"] == []


async def test_statuses_full_text_respects_visibility(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob, carol = [await member(db, urls, n) for n in ("alice", "bob", "carol")]
    await follows.follow(db.pool, bob.actor, alice.actor)
    public = await post(db.pool, urls, alice.actor, "Stainless valves in stock at https://example.com")
    private = await post(db.pool, urls, alice.actor, "valves discount for followers", visibility="private")
    own = await post(db.pool, urls, carol.actor, "my valves notes", visibility="direct")
    warned = await post(db.pool, urls, alice.actor, "see inside", spoiler_text="valves pricing")
    await post(db.pool, urls, alice.actor, "pumps only")
    found = await search(client, carol.headers, q="valves", type="statuses")
    assert ids(found["statuses"]) == [str(warned), str(own), str(public)]  # public + carol's own, newest first
    # bob follows alice, but search covers public posts and one's own only (not followers-only ones)
    assert str(private) not in ids((await search(client, bob.headers, q="valves"))["statuses"])
    assert ids((await search(client, carol.headers, q="stainless valves"))["statuses"]) == [str(public)]
    assert ids((await search(client, carol.headers, q='"in stock" -pumps'))["statuses"]) == [str(public)]
    assert ids((await search(client, carol.headers, q="p"))["statuses"]) == []  # markup (<p>, <a href>) is not text
    assert ids((await search(client, carol.headers, q="href"))["statuses"]) == []
    found = await search(client, carol.headers, q="valves", account_id=alice.account_id, limit="1", offset="1")
    assert ids(found["statuses"]) == [str(public)]
    assert (await search(client, q="valves"))["statuses"] == []  # anonymous searches find no statuses
    # an account that opted out of search (indexable: false) is found only by itself
    await db.pool.execute("UPDATE actors SET indexable = false WHERE id = $1", alice.id)
    assert ids((await search(client, carol.headers, q="stainless"))["statuses"]) == []
    assert ids((await search(client, alice.headers, q="stainless"))["statuses"]) == [str(public)]


async def test_the_full_text_index_serves_the_query(db: Database) -> None:
    from fediverse_biz.core.search import STATUS_DOCUMENT

    async with db.pool.acquire() as conn:
        await conn.execute("SET enable_seqscan = off")
        plan = "\n".join(
            r[0]
            for r in await conn.fetch(
                f"""EXPLAIN SELECT s.id FROM statuses s
                     WHERE {STATUS_DOCUMENT} @@ websearch_to_tsquery('simple', 'x') AND s.reblog_of_id IS NULL"""
            )
        )
    assert "statuses_search" in plan


async def test_resolve_and_offset_need_a_signed_in_user(client: httpx.AsyncClient) -> None:
    assert "without authentication" in await error(client.get("/api/v2/search?q=a@b.example&resolve=true"), 401)
    await error(client.get("/api/v2/search?q=a&offset=5"), 401)
    await error(client.get("/api/v2/search?q=a&type=people"), 422)
    assert await search(client, q="") == {"accounts": [], "statuses": [], "hashtags": []}


async def test_urls_of_known_statuses_and_accounts(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    status_id = await post(db.pool, urls, alice.actor, "find me by link")
    hidden = await post(db.pool, urls, alice.actor, "not for bob", visibility="private")
    permalink = urls.status_page("alice", status_id)
    found = await search(client, bob.headers, q=permalink, resolve="true")
    assert ids(found["statuses"]) == [str(status_id)] and found["accounts"] == []
    found = await search(client, q=urls.status(alice.actor["uri"], status_id))
    assert ids(found["statuses"]) == [str(status_id)]
    assert (await search(client, bob.headers, q=urls.status_page("alice", hidden), resolve="true"))["statuses"] == []
    found = await search(client, bob.headers, q=alice.actor["uri"])
    assert ids(found["accounts"]) == [alice.account_id]
    found = await search(client, bob.headers, q=urls.profile_page("alice"), type="statuses")
    assert found["accounts"] == []  # type= still applies
    # an unknown URL of our own is never fetched: nothing found, no error
    assert await search(client, bob.headers, q=f"{urls.base}/users/nobody", resolve="true") == {
        "accounts": [], "statuses": [], "hashtags": []
    }


@pytest.mark.parametrize("query", ["nobody@unreachable.invalid", "https://unreachable.invalid/users/x"])
async def test_unresolvable_queries_are_empty_not_errors(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, query: str
) -> None:
    bob = await member(db, urls, "bob")
    found = await search(client, bob.headers, q=query, resolve="true")
    assert found == {"accounts": [], "statuses": [], "hashtags": []}


# ---- two live instances ----------------------------------------------------------------------------
def test_resolve_an_account_and_a_post_on_another_instance(live_server_factory: Callable[..., LiveServer]) -> None:
    here, there = live_server_factory(), live_server_factory()
    create_user_sync(here, "alice")
    create_user_sync(there, "carol")
    alice = password_login(here.base_url, "alice", PASSWORD)
    alice.session, seen = validating_session()
    carol = password_login(there.base_url, "carol", PASSWORD)
    news = carol.status_post("Remote #fair news from carol")
    handle = f"carol@{there.settings.domain}"

    # without resolve nothing is fetched; with it (Mastodon.py's default) WebFinger finds her
    assert alice.search_v2(handle, resolve=False).accounts == []
    found = alice.search_v2(handle, result_type="accounts")
    assert [a.acct for a in found.accounts] == [handle]
    assert found.accounts[0].url == f"{there.base_url}/@carol"
    assert seen[-1].startswith("GET /api/v2/search")  # (validated as it arrived)
    # now she is known: found by name and by her actor URL without any network lookup
    assert [a.acct for a in alice.search_v2("carol", resolve=False).accounts] == [handle]
    assert [a.acct for a in alice.search_v2(f"{there.base_url}/users/carol", resolve=False).accounts] == [handle]

    # a post by its URL is fetched (signed by the instance actor) and stored
    served = httpx.get(news.uri, headers={"Accept": "application/activity+json"})
    assert served.status_code == 200
    found = alice.search_v2(news.uri)
    assert len(found.statuses) == 1 and "Remote" in found.statuses[0].content
    assert found.statuses[0].account.acct == handle
    assert found.statuses[0].uri == news.uri
