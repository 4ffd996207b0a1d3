"""Polls as ActivityStreams, without a server: a real Mastodon Question read, ours rendered and read back,
a vote's shape, and what hostile Questions are cut to."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from fediverse_biz.activitypub.notes import MAX_POLL_OPTIONS, note_from_ap
from fediverse_biz.activitypub.polls import question_properties, vote_create

FIXTURE = Path(__file__).parents[1] / "fixtures" / "federation" / "mastodon" / "create_question.json"


def test_a_real_mastodon_question_is_read_with_its_poll() -> None:
    question = json.loads(FIXTURE.read_text())["object"]
    parsed = note_from_ap(question, actor_followers_url="https://mastodon.sdf.org/users/rinpatch/followers")
    assert parsed.type == "Question" and parsed.visibility == "public"
    assert parsed.poll == {
        "multiple": False,
        "options": [
            {"title": "Dunno", "votes_count": 0},
            {"title": "Everyone knows that!", "votes_count": 1},
            {"title": "25 char limit is dumb", "votes_count": 0},
            {"title": "I can't even fit a funny", "votes_count": 1},
        ],
        "expires_at": "2019-05-11T09:03:36+00:00",
        "closed": False,
        "voters_count": None,
        "hide_totals": False,
    }


def our_poll(**changes: Any) -> dict[str, Any]:
    return {
        "options": [{"title": "Lyon", "votes_count": 3}, {"title": "Porto", "votes_count": 1}],
        "multiple": False, "hide_totals": False, "expires_at": "2030-01-01T12:00:00+00:00", "closed": False,
        "voters_count": 4, **changes,
    }


def test_our_question_reads_back_as_the_same_poll() -> None:
    now = datetime(2029, 1, 1, tzinfo=UTC)
    doc = {"id": "https://biz.example/users/a/statuses/1", "type": "Question",
           "attributedTo": "https://biz.example/users/a", "content": "<p>Where?</p>",
           **question_properties(our_poll(), now)}
    assert doc["endTime"] == "2030-01-01T12:00:00Z" and "closed" not in doc and "anyOf" not in doc
    parsed = note_from_ap(doc, actor_followers_url=None).poll
    assert parsed is not None
    assert parsed["options"] == our_poll()["options"] and parsed["voters_count"] == 4
    # multiple choice goes in anyOf; once over, `closed` is the end
    over = question_properties(our_poll(multiple=True), datetime(2031, 1, 1, tzinfo=UTC))
    assert [o["name"] for o in over["anyOf"]] == ["Lyon", "Porto"] and over["closed"] == "2030-01-01T12:00:00Z"
    # hidden totals stay hidden from peers until the end
    hidden = question_properties(our_poll(hide_totals=True), now)
    assert [o["replies"]["totalItems"] for o in hidden["oneOf"]] == [0, 0] and hidden["votersCount"] == 0


def test_a_vote_is_a_note_with_the_option_name_to_the_author_only() -> None:
    vote = vote_create(voter_uri="https://biz.example/users/c", vote_id=7, question_uri="https://m.example/q/1",
                       author_uri="https://m.example/users/a", option="Lyon")
    assert vote["id"] == "https://biz.example/users/c#votes/7/activity" and vote["to"] == ["https://m.example/users/a"]
    assert "cc" not in vote and "cc" not in vote["object"]
    assert vote["object"] == {"id": "https://biz.example/users/c#votes/7", "type": "Note", "name": "Lyon",
                              "attributedTo": "https://biz.example/users/c", "inReplyTo": "https://m.example/q/1",
                              "to": ["https://m.example/users/a"]}


def test_hostile_questions_are_cut_to_size() -> None:
    options: list[Any] = [{"type": "Note", "name": "n" * 100_000, "replies": {"totalItems": -5}}] * 10_000
    options += [{"type": "Note", "name": 7}, "not an object", {"type": "Note", "name": "ok", "replies": "x"}]
    doc = {"id": "https://m.example/q/2", "type": "Question", "attributedTo": "https://m.example/users/a",
           "content": "x", "oneOf": options, "votersCount": "many", "endTime": "not a time"}
    poll = note_from_ap(doc, actor_followers_url=None).poll
    assert poll is not None and len(poll["options"]) == MAX_POLL_OPTIONS
    assert all(len(o["title"]) <= 200 and o["votes_count"] == 0 for o in poll["options"])
    assert poll["voters_count"] is None and poll["expires_at"] is None
    empty = note_from_ap(doc | {"oneOf": ["not an object"]}, actor_followers_url=None)
    assert empty.poll is None
