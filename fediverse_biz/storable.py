"""The rule for text from outside: valid Unicode without NUL. One owner for the inbox, the client API and
the web pages.

PostgreSQL's text and jsonb cannot hold U+0000, and a lone surrogate (JSON's `"\\ud800"` escape, which
Python's json module accepts) cannot even be encoded as UTF-8 to send a query: either one reaching the
database is a 500 with a traceback. Every reader of outside input therefore applies this rule once, at the
door, to every string it hands on (keys included), and refuses the request naming the field: the inbox
with a 400, the client API with a 422 (Mastodon's validation error), a page with its 400 page or its form
again. A string that passes may be stored anywhere.

Other control characters are valid and storable, so they are not this rule's business; each field's own
cleaner decides, as Mastodon does: one-line names drop them (text.sanitize.sanitize_plain), notes keep line
breaks and tabs and drop the rest (core.profiles), post text keeps what was typed.

Query strings and urlencoded bodies: Starlette decodes invalid UTF-8 (`%ED%A0%80`, a surrogate's UTF-8
form, or any stray byte) to U+FFFD, silently changing what was sent. `form_pairs` decodes strictly instead,
so such a value is refused like a NUL. Multipart fields are left to Starlette, which falls back to Latin-1
for a field that is not UTF-8: the result is valid text, if not the text meant.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import unquote_to_bytes

_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
MAX_FIELD_NAME = 100  # a name is echoed in the answer; a megabyte-long one need not be


class UnstorableText(ValueError):
    """`field` holds text the rule refuses; str() is the message, e.g. "status contains a NUL character"."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field[:MAX_FIELD_NAME]
        self.reason = reason
        super().__init__(f"{self.field} {reason}")


def problem(text: str) -> str | None:
    """Why `text` cannot be stored, or None when it can."""
    match = _UNSTORABLE.search(text)
    if match is None:
        return None
    if match.group() == "\x00":
        return "contains a NUL character"
    return "is not valid Unicode (it holds a lone surrogate)"


def check(field: str, text: str) -> str:
    """`text` itself when it can be stored; UnstorableText naming `field` otherwise."""
    reason = problem(text)
    if reason is not None:
        raise UnstorableText(field, reason)
    return text


def check_tree(value: Any, field: str = "") -> None:
    """Every string in a decoded JSON document or nested parameters, dict keys included.

    The first bad one is named the way a form would name it (`fields_attributes[0][name]`). A key that
    fails is never echoed (it would make the answer itself unencodable): its parent is named instead.
    Iterative, so a document nested as deep as its parser allowed cannot exhaust the stack here.
    """
    pending: list[tuple[str, Any]] = [(field, value)]
    while pending:
        path, item = pending.pop()
        if isinstance(item, str):
            check(path or "the body", item)
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                name = str(key)
                reason = problem(name)
                if reason is not None:
                    raise UnstorableText(f"a field name in {path}" if path else "a field name", reason)
                children.append((f"{path}[{name}]" if path else name, child))
            pending.extend(reversed(children))  # report the first bad field in document order
        elif isinstance(item, list):
            pending.extend(reversed([(f"{path}[{i}]", child) for i, child in enumerate(item)]))


def split_form(raw: bytes) -> tuple[list[tuple[str, str]], UnstorableText | None]:
    """An `application/x-www-form-urlencoded` text (a body or a query string) as (name, value) pairs in
    order, decoded strictly as UTF-8 and checked: the pairs that pass, and the first problem if any.

    Same splitting as Starlette and `urllib.parse.parse_qsl(keep_blank_values=True)`: `&` separates,
    `+` is a space, a part without `=` has an empty value, empty parts are skipped.
    """
    pairs: list[tuple[str, str]] = []
    first: UnstorableText | None = None
    for part in raw.split(b"&"):
        if not part:
            continue
        name_bytes, _, value_bytes = part.partition(b"=")
        try:
            name = check("a parameter name", _unquote(name_bytes))
        except (UnicodeDecodeError, UnstorableText) as exc:
            first = first or _refusal("a parameter name", exc)
            continue
        try:
            value = check(name, _unquote(value_bytes))
        except (UnicodeDecodeError, UnstorableText) as exc:
            first = first or _refusal(name, exc)
            continue
        pairs.append((name, value))
    return pairs, first


def form_pairs(raw: bytes) -> list[tuple[str, str]]:
    """split_form's pairs; UnstorableText for the first name or value that is not valid, storable UTF-8."""
    pairs, refused = split_form(raw)
    if refused is not None:
        raise refused
    return pairs


def _unquote(raw: bytes) -> str:
    return unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")  # strict: raises on invalid UTF-8


def _refusal(field: str, exc: UnicodeDecodeError | UnstorableText) -> UnstorableText:
    return exc if isinstance(exc, UnstorableText) else UnstorableText(field, "is not valid UTF-8")
