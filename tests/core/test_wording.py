"""The English of the sentences we build around a word or a count (core/wording.py)."""

from __future__ import annotations

import pytest

from fediverse_biz.business.roles import ROLES
from fediverse_biz.core.wording import counted, noun, with_article


def test_every_team_role_takes_the_article_its_sound_asks_for() -> None:
    assert [with_article(role) for role in ROLES] == ["an owner", "a manager", "an editor", "a contributor"]
    assert [with_article(role, capital=True) for role in ROLES] == [
        "An owner", "A manager", "An editor", "A contributor",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("admin", "an admin"),
        ("moderator", "a moderator"),
        ("user", "a user"),  # a vowel letter with a consonant sound
        ("unit", "a unit"),
        ("unimportant post", "an unimportant post"),
        ("one-off", "a one-off"),
        ("hour", "an hour"),  # a consonant letter that is not sounded
        ("hall", "a hall"),
        ("Invitation", "an Invitation"),
    ],
)
def test_the_article_follows_the_sound(word: str, expected: str) -> None:
    assert with_article(word) == expected


@pytest.mark.parametrize(
    ("count", "singular", "plural", "expected"),
    [
        (1, "reply", None, "1 reply"),
        (2, "reply", None, "2 replies"),
        (0, "reply", None, "0 replies"),
        (None, "boost", None, "0 boosts"),
        (1, "boost", None, "1 boost"),
        (1, "favourite", None, "1 favourite"),
        (1234, "post", None, "1,234 posts"),
        (3, "day", None, "3 days"),  # a vowel before the y: just an s
        (2, "address", None, "2 addresses"),
        (1, "connected server", None, "1 connected server"),
        (5, "person", "people", "5 people"),
    ],
)
def test_a_count_takes_the_singular_only_for_one(
    count: int | None, singular: str, plural: str | None, expected: str
) -> None:
    assert counted(count, singular, plural) == expected
    assert noun(count, singular, plural) == expected.split(" ", 1)[1]
