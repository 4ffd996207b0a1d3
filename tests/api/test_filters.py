"""Filters v2 and v1: CRUD, keywords and statuses, validation and scopes, and their effect on every
timeline, threads and notifications (warn adds `filtered`, hide removes the status in its contexts)."""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_biz.core import follows
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.social import Member, checked, error, member, token


async def make_filter(client: httpx.AsyncClient, owner: Member, **body: Any) -> dict[str, Any]:
    made: dict[str, Any] = await checked(client.post("/api/v2/filters", json=body, headers=owner.headers), "filter")
    return made


async def say(client: httpx.AsyncClient, who: Member, text: str, **extra: str) -> str:
    status = await checked(
        client.post("/api/v1/statuses", data={"status": text, **extra}, headers=who.headers), "status"
    )
    return str(status["id"])


async def statuses_at(client: httpx.AsyncClient, who: Member, path: str) -> dict[str, dict[str, Any]]:
    body = await checked(client.get(path, headers=who.headers), "status")
    return {s["id"]: s for s in body}


async def test_v2_crud_keywords_and_statuses(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    made = await make_filter(client, alice, title="Sales", context=["home", "public"], filter_action="hide",
                             keywords_attributes=[{"keyword": "discount"}, {"keyword": "sale", "whole_word": False}])
    assert made["title"] == "Sales" and made["context"] == ["home", "public"] and made["filter_action"] == "hide"
    assert made["expires_at"] is None and made["statuses"] == []
    assert [(k["keyword"], k["whole_word"]) for k in made["keywords"]] == [("discount", True), ("sale", False)]
    assert await checked(client.get("/api/v2/filters", headers=alice.headers), "filter") == [made]
    assert await checked(client.get(f"/api/v2/filters/{made['id']}", headers=alice.headers), "filter") == made

    discount, sale = made["keywords"]
    changed = await checked(client.put(f"/api/v2/filters/{made['id']}", json={
        "title": "Offers", "filter_action": "warn", "expires_in": 3600,
        "keywords_attributes": [{"id": discount["id"], "keyword": "rebate"}, {"id": sale["id"], "_destroy": True},
                                {"keyword": "promo"}]}, headers=alice.headers), "filter")  # fmt: skip
    assert changed["title"] == "Offers" and changed["filter_action"] == "warn" and changed["expires_at"] is not None
    assert [k["keyword"] for k in changed["keywords"]] == ["rebate", "promo"]

    # keywords and statuses as resources of their own
    path = f"/api/v2/filters/{made['id']}"
    added = await checked(client.post(f"{path}/keywords", data={"keyword": "bargain", "whole_word": "false"},
                                      headers=alice.headers), "filter_keyword")  # fmt: skip
    assert added["keyword"] == "bargain" and added["whole_word"] is False
    assert len(await checked(client.get(f"{path}/keywords", headers=alice.headers), "filter_keyword")) == 3
    kw = f"/api/v2/filters/keywords/{added['id']}"
    assert (await checked(client.put(kw, data={"keyword": "deal"}, headers=alice.headers), "filter_keyword"))[
        "keyword"] == "deal"  # fmt: skip
    assert (await checked(client.get(kw, headers=alice.headers), "filter_keyword"))["keyword"] == "deal"
    await error(client.get(kw, headers=bob.headers), 404)
    assert (await client.delete(kw, headers=alice.headers)).json() == {}
    await error(client.get(kw, headers=alice.headers), 404)

    post = await say(client, bob, "a post")
    secret = await say(client, bob, "@carol only", visibility="direct")
    filtered = await checked(client.post(f"{path}/statuses", data={"status_id": post}, headers=alice.headers),
                             "filter_status")  # fmt: skip
    assert filtered["status_id"] == post
    await error(client.post(f"{path}/statuses", data={"status_id": post}, headers=alice.headers), 422)
    await error(client.post(f"{path}/statuses", data={"status_id": secret}, headers=alice.headers), 404)
    assert [s["id"] for s in await checked(client.get(f"{path}/statuses", headers=alice.headers),
                                           "filter_status")] == [filtered["id"]]  # fmt: skip
    one = f"/api/v2/filters/statuses/{filtered['id']}"
    assert (await checked(client.get(one, headers=alice.headers), "filter_status")) == filtered
    await error(client.delete(one, headers=bob.headers), 404)
    assert (await client.delete(one, headers=alice.headers)).json() == {}

    # bob cannot see or touch alice's filter
    assert await checked(client.get("/api/v2/filters", headers=bob.headers), "filter") == []
    await error(client.get(path, headers=bob.headers), 404)
    await error(client.put(path, json={"title": "x"}, headers=bob.headers), 404)
    await error(client.delete(path, headers=bob.headers), 404)
    assert (await client.delete(path, headers=alice.headers)).json() == {}
    await error(client.get(path, headers=alice.headers), 404)


async def test_validation_and_scopes(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    post = client.post
    await error(post("/api/v2/filters", json={"title": "x"}, headers=alice.headers), 422)  # no context
    await error(post("/api/v2/filters", json={"title": "x", "context": ["inbox"]}, headers=alice.headers), 422)
    await error(post("/api/v2/filters", json={"title": "", "context": ["home"]}, headers=alice.headers), 422)
    await error(post("/api/v2/filters", json={"title": "x", "context": ["home"], "filter_action": "blur"},
                     headers=alice.headers), 422)  # fmt: skip
    await error(post("/api/v2/filters", json={"title": "x", "context": ["home"], "expires_in": "soon"},
                     headers=alice.headers), 422)  # fmt: skip
    await error(post("/api/v2/filters", json={"title": "x", "context": ["home"],
                                              "keywords_attributes": [{"keyword": " "}]}, headers=alice.headers), 422)
    await error(post("/api/v2/filters", json={"title": "x\u0000", "context": ["home"]}, headers=alice.headers), 422)
    await error(post("/api/v2/filters", json={"title": "x" * 300, "context": ["home"]}, headers=alice.headers), 422)
    assert await checked(client.get("/api/v2/filters", headers=alice.headers), "filter") == []  # nothing half-made
    for bad in ("abc", "0", "99999999999999999999"):
        await error(client.get(f"/api/v2/filters/{bad}", headers=alice.headers), 404)

    reader = await token(db, alice, "read:filters")
    await checked(client.get("/api/v2/filters", headers=reader), "filter")
    await checked(client.get("/api/v1/filters", headers=reader), "filter_v1")
    await error(post("/api/v2/filters", json={"title": "x", "context": ["home"]}, headers=reader), 403)
    await error(post("/api/v1/filters", json={"phrase": "x", "context": ["home"]}, headers=reader), 403)
    other = await token(db, alice, "read:statuses write:statuses")
    await error(client.get("/api/v2/filters", headers=other), 403)
    await error(client.get("/api/v1/filters", headers=other), 403)
    writer = await token(db, alice, "write:filters")
    await checked(post("/api/v2/filters", json={"title": "x", "context": ["home"]}, headers=writer), "filter")
    await error(client.get("/api/v2/filters"), 401)


async def test_v1_reads_and_writes_through_v2(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    made = await checked(client.post("/api/v1/filters", data={"phrase": "crypto", "context[]": ["home", "thread"],
                                                               "irreversible": "true"}, headers=alice.headers),
                         "filter_v1")  # fmt: skip
    assert made == {"id": made["id"], "phrase": "crypto", "context": ["home", "thread"], "whole_word": True,
                    "expires_at": None, "irreversible": True}  # fmt: skip
    [v2] = await checked(client.get("/api/v2/filters", headers=alice.headers), "filter")
    assert v2["title"] == "crypto" and v2["filter_action"] == "hide" and v2["keywords"][0]["id"] == made["id"]
    # a v2 filter with two keywords is two v1 filters
    await make_filter(client, alice, title="Two", context=["public"],
                      keywords_attributes=[{"keyword": "one"}, {"keyword": "two"}])  # fmt: skip
    listed = await checked(client.get("/api/v1/filters", headers=alice.headers), "filter_v1")
    assert [f["phrase"] for f in listed] == ["crypto", "one", "two"]
    changed = await checked(client.put(f"/api/v1/filters/{made['id']}", data={
        "phrase": "blockchain", "whole_word": "false", "irreversible": "false"}, headers=alice.headers),
        "filter_v1")  # fmt: skip
    assert changed["phrase"] == "blockchain" and changed["whole_word"] is False and changed["irreversible"] is False
    one = listed[1]["id"]
    await error(client.put(f"/api/v1/filters/{one}", data={"irreversible": "true"}, headers=alice.headers), 422)
    assert (await client.delete(f"/api/v1/filters/{one}", headers=alice.headers)).json() == {}
    assert [f["phrase"] for f in await checked(client.get("/api/v1/filters", headers=alice.headers),
                                               "filter_v1")] == ["blockchain", "two"]  # fmt: skip
    assert (await client.delete(f"/api/v1/filters/{made['id']}", headers=alice.headers)).json() == {}
    assert [f["title"] for f in await checked(client.get("/api/v2/filters", headers=alice.headers),
                                              "filter")] == ["Two"]  # fmt: skip


async def test_filters_act_on_timelines_threads_and_notifications(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    await follows.follow(db.pool, alice.actor, bob.actor)
    warn = await make_filter(client, alice, title="Invoices", context=["home", "thread"],
                             keywords_attributes=[{"keyword": "invoice"}])  # fmt: skip
    await make_filter(client, alice, title="Spoilers", context=["home", "public", "notifications"],
                      filter_action="hide", keywords_attributes=[{"keyword": "spoiler"}])  # fmt: skip
    invoice = await say(client, bob, "The new INVOICE template is out")
    plural = await say(client, bob, "All invoices are paid")  # whole word: "invoices" is not "invoice"
    spoiler = await say(client, bob, "Big spoiler: the merger")
    plain = await say(client, bob, "Nothing to see")
    boost = (await checked(client.post(f"/api/v1/statuses/{invoice}/reblog", headers=bob.headers), "status"))["id"]

    home = await statuses_at(client, alice, "/api/v1/timelines/home")
    assert list(home) == [boost, plain, plural, invoice]  # the hidden one is gone
    [result] = home[invoice]["filtered"]
    assert result["filter"]["id"] == warn["id"] and result["keyword_matches"] == ["invoice"]
    assert result["status_matches"] is None
    assert home[boost]["filtered"] == [result] and home[boost]["reblog"]["filtered"] == [result]
    assert home[plain]["filtered"] == [] and home[plural]["filtered"] == []

    public = await statuses_at(client, alice, "/api/v1/timelines/public")
    assert spoiler not in public and invoice in public
    # filters of every context are reported, as Mastodon does; only hide in the context read removes
    account = await statuses_at(client, alice, f"/api/v1/accounts/{bob.account_id}/statuses")
    assert spoiler in account and account[spoiler]["filtered"][0]["filter"]["filter_action"] == "hide"
    shown = await checked(client.get(f"/api/v1/statuses/{spoiler}", headers=alice.headers), "status")
    assert shown["filtered"][0]["filter"]["title"] == "Spoilers"
    # bob's own view is untouched, and so is an anonymous one
    assert spoiler in await statuses_at(client, bob, "/api/v1/timelines/home")
    anonymous = (await client.get("/api/v1/timelines/public")).json()
    assert spoiler in [s["id"] for s in anonymous] and all(s.get("filtered", []) == [] for s in anonymous)

    # threads
    reply = await say(client, bob, "spoiler in a reply", in_reply_to_id=plain)
    context = await checked(client.get(f"/api/v1/statuses/{plain}/context", headers=alice.headers), "context")
    assert [s["id"] for s in context["descendants"]] == [reply]  # the hide filter is not for threads
    # notifications: a mention with the keyword is left out, another one stays
    await say(client, bob, "@alice spoiler for you")
    kept = await say(client, bob, "@alice the invoice")
    notes = await checked(client.get("/api/v1/notifications", headers=alice.headers), "notification")
    assert [n["status"]["id"] for n in notes if n["type"] == "mention"] == [kept]

    # an expired filter applies nowhere
    await db.pool.execute("UPDATE filters SET expires_at = now() - interval '1 minute'")
    assert spoiler in await statuses_at(client, alice, "/api/v1/timelines/home")


async def test_whole_word_and_status_filters(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = [await member(db, urls, n) for n in ("alice", "bob")]
    await follows.follow(db.pool, alice.actor, bob.actor)
    loose = await make_filter(client, alice, title="Loose", context=["home"],
                              keywords_attributes=[{"keyword": "invoice", "whole_word": False}])  # fmt: skip
    hashtag = await make_filter(client, alice, title="Tag", context=["home"],
                                keywords_attributes=[{"keyword": "#launch"}])  # fmt: skip
    plural = await say(client, bob, "All invoices are paid")
    tagged = await say(client, bob, "Today: #launch day")
    chosen = await say(client, bob, "Nothing special")
    picked = await make_filter(client, alice, title="Picked", context=["home"], filter_action="warn")
    await client.post(f"/api/v2/filters/{picked['id']}/statuses", data={"status_id": chosen}, headers=alice.headers)
    home = await statuses_at(client, alice, "/api/v1/timelines/home")
    assert [r["filter"]["id"] for r in home[plural]["filtered"]] == [loose["id"]]
    assert [r["filter"]["id"] for r in home[tagged]["filtered"]] == [hashtag["id"]]
    [by_status] = home[chosen]["filtered"]
    assert by_status["status_matches"] == [chosen] and by_status["keyword_matches"] is None
