"""Small rules of English for the sentences we build around a word or a number: the article a word takes
("an editor", "a manager") and the noun a count takes ("1 reply", "2 replies").

Pure. Messages that put a role into a sentence use `with_article`; pages that show "N things" use
`counted` / `noun` (the `counted` and `noun` filters of web/rendering.py).
"""

from __future__ import annotations

from typing import Final

__all__ = ["counted", "noun", "with_article"]

# The article follows the sound, not the letter: "a user" (a "y" sound), "an hour" (a silent h).
# Prefixes, so "unit" is "a unit" but "unimportant" stays "an unimportant".
_VOWEL_LETTER_BUT_CONSONANT_SOUND: Final = ("one", "once", "unicode", "uniform", "union", "unique", "unit", "univers",
                                            "usa", "use", "usu", "uten", "util", "eu", "ewe", "ubiq")  # fmt: skip
_SILENT_H: Final = ("hour", "honest", "honor", "honour", "heir")


def with_article(word: str, *, capital: bool = False) -> str:
    """`word` after "a" or "an", chosen by how the word starts when spoken: "an editor", "a contributor",
    "a user", "an hour"; "An editor" with `capital`, to start a sentence."""
    start = word.lower()
    if start.startswith(_SILENT_H):
        article = "an"
    elif start.startswith(_VOWEL_LETTER_BUT_CONSONANT_SOUND):
        article = "a"
    else:
        article = "an" if start[:1] in ("a", "e", "i", "o", "u") else "a"
    return f"{article.capitalize() if capital else article} {word}"


def noun(count: int | None, singular: str, plural: str | None = None) -> str:
    """The form of a noun that `count` takes: the singular for exactly one, else the plural (given, or the
    regular one: "reply" → "replies", "post" → "posts"). None counts as 0, as the pages show it."""
    if (count or 0) == 1:
        return singular
    if plural is not None:
        return plural
    if singular.endswith("y") and singular[-2:-1] not in ("a", "e", "i", "o", "u", ""):
        return singular[:-1] + "ies"
    if singular.endswith(("s", "x", "z", "ch", "sh")):
        return singular + "es"
    return singular + "s"


def counted(count: int | None, singular: str, plural: str | None = None) -> str:
    """The number with thousands separators, then its noun: "1 reply", "0 replies", "1,234 posts"."""
    return f"{count or 0:,} {noun(count, singular, plural)}"
