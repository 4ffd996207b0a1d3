"""POST/GET/PUT/DELETE /api/v1/statuses, thread, history, source, and the actions on a status."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from fediverse_biz.core import follows
from fediverse_biz.core.statuses import MAX_CHARACTERS
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.images import png
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import Member, checked, count_statuses, error, member, token


async def post(client: httpx.AsyncClient, who: Member, text: str = "hello", **fields: object) -> dict[str, Any]:
    data = {"status": text, **fields}
    body: dict[str, Any] = await checked(client.post("/api/v1/statuses", data=data, headers=who.headers), "status")
    return body


# ---- posting -----------------------------------------------------------------------------------
async def test_post_a_plain_status_as_mastodon_py_sends_it(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    status = await post(client, alice, "Hello #Trade fair, see https://example.com")
    assert status["visibility"] == "public" and status["sensitive"] is False
    assert "Hello" in str(status["content"]) and status["tags"] == [{"name": "Trade", "url": urls.tag("Trade")}]
    assert status["account"]["id"] == alice.account_id
    assert status["application"] == {"name": "fediverse_biz tests", "website": None}
    assert status["favourited"] is False and status["pinned"] is False
    row = await db.pool.fetchrow("SELECT * FROM statuses WHERE id = $1", int(str(status["id"])))
    assert row["source_text"] == "Hello #Trade fair, see https://example.com"
    assert row["created_by_user_id"] == alice.user.user_id


async def test_toot_json_body_with_idempotency_key_posts_once(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    headers = {**alice.headers, "Idempotency-Key": "0f4c2a"}
    body = {"status": "only once", "media_ids": [], "sensitive": False}
    first = await checked(client.post("/api/v1/statuses", json=body, headers=headers), "status")
    second = await checked(client.post("/api/v1/statuses", json=body, headers=headers), "status")
    assert first["id"] == second["id"]
    assert await count_statuses(db) == 1


@pytest.mark.parametrize("visibility", ["public", "unlisted", "private", "direct"])
async def test_each_visibility_and_a_content_warning(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, visibility: str
) -> None:
    alice = await member(db, urls, "alice")
    status = await post(client, alice, "spoiler inside", visibility=visibility, spoiler_text="Q3 numbers")
    assert status["visibility"] == visibility
    assert status["spoiler_text"] == "Q3 numbers" and status["sensitive"] is True


async def test_reply_and_thread_context(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    root = await post(client, alice, "Who sells valves?")
    reply = await post(client, bob, "@alice we do", in_reply_to_id=root["id"])
    assert reply["in_reply_to_id"] == root["id"] and reply["in_reply_to_account_id"] == alice.account_id
    assert [m["acct"] for m in reply["mentions"]] == ["alice"]
    answer = await post(client, alice, "@bob great", in_reply_to_id=reply["id"])
    context = await checked(client.get(f"/api/v1/statuses/{root['id']}/context"), "context")
    assert [s["id"] for s in context["descendants"]] == [reply["id"], answer["id"]]
    assert context["ancestors"] == []
    context = await checked(client.get(f"/api/v1/statuses/{answer['id']}/context", headers=bob.headers), "context")
    assert [s["id"] for s in context["ancestors"]] == [root["id"], reply["id"]]
    shown = await checked(client.get(f"/api/v1/statuses/{root['id']}"), "status")
    assert shown["replies_count"] == 1  # direct replies only


async def test_reply_to_an_unknown_status_is_404_and_saves_nothing(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    call = client.post("/api/v1/statuses", data={"status": "x", "in_reply_to_id": "123"}, headers=alice.headers)
    await error(call, 404)
    assert await count_statuses(db) == 0


async def test_post_with_media(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    files = {"file": ("booth.png", png(), "image/png")}
    media = await checked(
        client.post("/api/v2/media", files=files, data={"description": "our booth"}, headers=alice.headers),
        "media_attachment",
    )
    status = await post(client, alice, "", **{"media_ids[]": media["id"]})
    assert [m["id"] for m in status["media_attachments"]] == [media["id"]]
    assert status["media_attachments"][0]["description"] == "our booth"


# ---- reading -----------------------------------------------------------------------------------
async def test_get_one_and_many(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    a = await post(client, alice, "a")
    b = await post(client, alice, "b")
    hidden = await post(client, alice, "c", visibility="private")
    assert (await checked(client.get(f"/api/v1/statuses/{a['id']}"), "status"))["id"] == a["id"]
    many = await checked(
        client.get(
            "/api/v1/statuses", params=[("id[]", b["id"]), ("id[]", "999"), ("id[]", hidden["id"]), ("id[]", a["id"])]
        ),
        "status",
    )
    assert [s["id"] for s in many] == [b["id"], a["id"]]  # asked order; unknown and invisible left out
    many = await checked(
        client.get("/api/v1/statuses", params=[("id[]", hidden["id"])], headers=alice.headers), "status"
    )
    assert [s["id"] for s in many] == [hidden["id"]]


@pytest.mark.parametrize("status_id", ["999", "abc", "99999999999999999999"])
async def test_unknown_ids_are_404(client: httpx.AsyncClient, status_id: str) -> None:
    assert await error(client.get(f"/api/v1/statuses/{status_id}"), 404) == "Record not found"
    await error(client.get(f"/api/v1/statuses/{status_id}/context"), 404)


# ---- editing and deleting ----------------------------------------------------------------------
async def test_edit_keeps_history_and_source(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    status = await post(client, alice, "first version")
    history = await checked(client.get(f"/api/v1/statuses/{status['id']}/history"), "status_edit")
    assert len(history) == 1 and "first version" in history[0]["content"]  # never edited: one entry
    edited = await checked(
        client.put(
            f"/api/v1/statuses/{status['id']}",
            data={"status": "second version", "spoiler_text": "cw", "language": "de"},
            headers=alice.headers,
        ),
        "status",
    )
    assert "second version" in edited["content"] and edited["edited_at"] is not None
    assert edited["spoiler_text"] == "cw" and edited["language"] == "de"
    history = await checked(client.get(f"/api/v1/statuses/{status['id']}/history"), "status_edit")
    assert ["first" in h["content"] for h in history] == [True, False]
    assert history[1]["spoiler_text"] == "cw"
    source = await checked(
        client.get(f"/api/v1/statuses/{status['id']}/source", headers=alice.headers), "status_source"
    )
    assert source == {"id": status["id"], "text": "second version", "spoiler_text": "cw"}


async def test_edit_can_remove_media(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    media = await checked(
        client.post("/api/v2/media", files={"file": ("a.png", png(), "image/png")}, headers=alice.headers),
        "media_attachment",
    )
    status = await post(client, alice, "with a picture", **{"media_ids[]": media["id"]})
    edited = await checked(
        client.put(
            f"/api/v1/statuses/{status['id']}", json={"status": "without", "media_ids": []}, headers=alice.headers
        ),
        "status",
    )
    assert edited["media_attachments"] == []
    history = await checked(client.get(f"/api/v1/statuses/{status['id']}/history"), "status_edit")
    assert [len(h["media_attachments"]) for h in history] == [1, 0]


async def test_delete_returns_the_source_for_redraft(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    status = await post(client, alice, "oops #typo")
    deleted = await checked(client.delete(f"/api/v1/statuses/{status['id']}", headers=alice.headers), "status")
    assert deleted["id"] == status["id"] and deleted["text"] == "oops #typo"
    await error(client.get(f"/api/v1/statuses/{status['id']}"), 404)
    assert await count_statuses(db) == 0
    await error(client.delete(f"/api/v1/statuses/{status['id']}", headers=alice.headers), 404)


async def test_others_cannot_edit_or_delete(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, mallory = await member(db, urls, "alice"), await member(db, urls, "mallory")
    status = await post(client, alice, "mine")
    await error(client.put(f"/api/v1/statuses/{status['id']}", data={"status": "yours"}, headers=mallory.headers), 403)
    await error(client.delete(f"/api/v1/statuses/{status['id']}", headers=mallory.headers), 403)
    hidden = await post(client, alice, "secret", visibility="private")
    await error(client.delete(f"/api/v1/statuses/{hidden['id']}", headers=mallory.headers), 404)
    assert await count_statuses(db) == 2


# ---- bad input ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"status": "x", "visibility": "friends"}, "visibility"),
        ({"status": "x" * (MAX_CHARACTERS + 1)}, "character limit"),
        ({"status": "x", "media_ids": ["1", "2", "3", "4", "5"]}, "media"),
        ({"status": "x", "media_ids": ["not-a-number"]}, "media_ids"),
        ({"status": "x", "poll": {"options": ["a", "b"], "expires_in": 60}}, "Poll duration is too short"),
        ({"status": "x", "scheduled_at": "2030-01-01T00:00:00Z"}, "scheduled"),
        ({"status": "   "}, "blank"),
        ({"status": "x", "language": "not a language"}, "language"),
    ],
)
async def test_invalid_posts_are_422_and_save_nothing(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, body: dict[str, object], message: str
) -> None:
    alice = await member(db, urls, "alice")
    before = await count_statuses(db)
    text = await error(client.post("/api/v1/statuses", json=body, headers=alice.headers), 422)
    assert message in text
    assert await count_statuses(db) == before
    assert await db.pool.fetchval("SELECT count(*) FROM jobs") == 0


async def test_form_encoded_invalid_poll_is_refused_too(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice = await member(db, urls, "alice")
    form = "status=x&poll%5Boptions%5D%5B%5D=a&poll%5Boptions%5D%5B%5D=b&poll%5Bexpires_in%5D=60"  # Mastodon.py's shape
    headers = {**alice.headers, "Content-Type": "application/x-www-form-urlencoded"}
    await error(client.post("/api/v1/statuses", content=form, headers=headers), 422)
    assert await count_statuses(db) == 0


async def test_tokens_and_scopes(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    await error(client.post("/api/v1/statuses", data={"status": "x"}), 401)
    await error(client.post("/api/v1/statuses", data={"status": "x"}, headers={"Authorization": "Bearer nope"}), 401)
    read_only = await token(db, alice, "read")
    assert "outside the authorized scopes" in await error(
        client.post("/api/v1/statuses", data={"status": "x"}, headers=read_only), 403
    )
    granular = await token(db, alice, "write:statuses")
    await checked(client.post("/api/v1/statuses", data={"status": "x"}, headers=granular), "status")
    status_id = await db.pool.fetchval("SELECT id FROM statuses")
    await error(client.post(f"/api/v1/statuses/{status_id}/favourite", headers=granular), 403)  # write:favourites
    await db.pool.execute("UPDATE oauth_tokens SET revoked_at = now()")
    await error(client.post("/api/v1/statuses", data={"status": "y"}, headers=alice.headers), 401)
    assert await count_statuses(db) == 1


# ---- actions -----------------------------------------------------------------------------------
async def test_favourite_and_who_favourited(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice = await member(db, urls, "alice")
    fans = [await member(db, urls, f"fan{i}") for i in range(3)]
    status = await post(client, alice, "like me")
    for fan in fans:
        shown = await checked(client.post(f"/api/v1/statuses/{status['id']}/favourite", headers=fan.headers), "status")
        assert shown["favourited"] is True
    assert shown["favourites_count"] == 3
    # newest first, paged by the favourite's id with Mastodon's Link header
    response = await client.get(f"/api/v1/statuses/{status['id']}/favourited_by?limit=2")
    page = response.json()
    for account in page:
        assert_matches("account", account)
    assert [a["id"] for a in page] == [fans[2].account_id, fans[1].account_id]
    link = response.headers["link"]
    assert link.startswith("<") and 'rel="next"' in link.split(",")[0] and "min_id=" in link
    next_url = link.split(">")[0][1:]
    rest = await checked(client.get(next_url), "account")
    assert [a["id"] for a in rest] == [fans[0].account_id]
    undone = await checked(
        client.post(f"/api/v1/statuses/{status['id']}/unfavourite", headers=fans[0].headers), "status"
    )
    assert undone["favourited"] is False and undone["favourites_count"] == 2


async def test_reblog_returns_the_wrapper_and_unreblog_the_original(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    status = await post(client, alice, "boost me")
    boost = await checked(client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=bob.headers), "status")
    assert boost["id"] != status["id"] and boost["reblog"]["id"] == status["id"]
    assert boost["reblog"]["reblogged"] is True and boost["account"]["id"] == bob.account_id
    by = await checked(client.get(f"/api/v1/statuses/{status['id']}/reblogged_by"), "account")
    assert [a["id"] for a in by] == [bob.account_id]
    again = await checked(client.post(f"/api/v1/statuses/{status['id']}/reblog", headers=bob.headers), "status")
    assert again["id"] == boost["id"]  # idempotent
    original = await checked(client.post(f"/api/v1/statuses/{status['id']}/unreblog", headers=bob.headers), "status")
    assert original["id"] == status["id"] and original["reblogged"] is False and original["reblogs_count"] == 0
    private = await post(client, alice, "followers only", visibility="private")
    await follows.follow(db.pool, bob.actor, alice.actor)
    await error(client.post(f"/api/v1/statuses/{private['id']}/reblog", headers=bob.headers), 403)


async def test_bookmark_pin_and_conversation_mute(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    status = await post(client, alice, "keep this")
    marked = await checked(client.post(f"/api/v1/statuses/{status['id']}/bookmark", headers=bob.headers), "status")
    assert marked["bookmarked"] is True
    unmarked = await checked(client.post(f"/api/v1/statuses/{status['id']}/unbookmark", headers=bob.headers), "status")
    assert unmarked["bookmarked"] is False
    pinned = await checked(client.post(f"/api/v1/statuses/{status['id']}/pin", headers=alice.headers), "status")
    assert pinned["pinned"] is True
    assert "Someone else" in await error(client.post(f"/api/v1/statuses/{status['id']}/pin", headers=bob.headers), 422)
    unpinned = await checked(client.post(f"/api/v1/statuses/{status['id']}/unpin", headers=alice.headers), "status")
    assert unpinned["pinned"] is False
    muted = await checked(client.post(f"/api/v1/statuses/{status['id']}/mute", headers=bob.headers), "status")
    assert muted["muted"] is True
    unmuted = await checked(client.post(f"/api/v1/statuses/{status['id']}/unmute", headers=bob.headers), "status")
    assert unmuted["muted"] is False


async def test_actions_on_unknown_statuses_are_404(client: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    bob = await member(db, urls, "bob")
    for verb in ("favourite", "unfavourite", "reblog", "unreblog", "bookmark", "unbookmark", "pin", "mute"):
        await error(client.post(f"/api/v1/statuses/12345/{verb}", headers=bob.headers), 404)
    for what in ("favourited_by", "reblogged_by", "history", "source"):
        await error(client.get(f"/api/v1/statuses/12345/{what}", headers=bob.headers), 404)


async def test_empty_post_without_content_type_as_toot_favourites(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    alice, bob = await member(db, urls, "alice"), await member(db, urls, "bob")
    status = await post(client, alice, "x")
    request = client.build_request("POST", f"/api/v1/statuses/{status['id']}/reblog", headers=bob.headers)
    assert "content-type" not in request.headers
    boost = await checked(client.send(request), "status")
    assert json.dumps(boost["reblog"]["id"]) == json.dumps(status["id"])
