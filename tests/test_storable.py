"""fediverse_biz/storable.py: the one rule for outside text (valid Unicode, no NUL) and its form decoder."""

from __future__ import annotations

import sys
from typing import Any
from urllib.parse import quote

import pytest

from fediverse_biz import storable
from fediverse_biz.storable import UnstorableText, check, check_tree, form_pairs, problem, split_form


@pytest.mark.parametrize(
    "text", ["", "plain", "Zürich 東京 🚀", "tab\tnew\nline\r", "\x01\x1f\x7f\x85 controls", "\u202e\ufeff\uffff"]
)
def test_storable_text_passes_control_characters_included(text: str) -> None:
    assert problem(text) is None
    assert check("status", text) is text


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("a\x00b", "contains a NUL character"),
        ("\x00", "contains a NUL character"),
        ("x\ud800", "is not valid Unicode (it holds a lone surrogate)"),
        ("\udfff\ud800", "is not valid Unicode (it holds a lone surrogate)"),
        ("\ud83d", "is not valid Unicode (it holds a lone surrogate)"),
    ],
)
def test_nul_and_lone_surrogates_are_refused_naming_the_field(text: str, reason: str) -> None:
    assert problem(text) == reason
    with pytest.raises(UnstorableText) as refused:
        check("spoiler_text", text)
    assert refused.value.field == "spoiler_text"
    assert str(refused.value) == f"spoiler_text {reason}"
    assert isinstance(refused.value, ValueError)


def test_a_long_field_name_is_cut_in_the_message() -> None:
    with pytest.raises(UnstorableText) as refused:
        check("n" * 5000, "\x00")
    assert len(refused.value.field) == storable.MAX_FIELD_NAME


@pytest.mark.parametrize(
    ("document", "field"),
    [
        ({"status": "a\x00"}, "status"),
        ({"status": "ok", "spoiler_text": "\ud800"}, "spoiler_text"),
        ({"fields_attributes": [{"name": "ok", "value": "ok"}, {"name": "\x00"}]}, "fields_attributes[1][name]"),
        ({"fields_attributes": {"0": {"value": "\udc00"}}}, "fields_attributes[0][value]"),
        ({"source": {"note": "\x00"}}, "source[note]"),
        ({"media_ids": ["1", "\x00"]}, "media_ids[1]"),
        ({"a\x00": "value"}, "a field name"),
        ({"source": {"\ud800": 1}}, "a field name in source"),
        ("\x00", "the body"),
    ],
)
def test_every_string_of_a_document_is_checked_and_named_as_a_form_would(document: Any, field: str) -> None:
    with pytest.raises(UnstorableText) as refused:
        check_tree(document)
    assert refused.value.field == field
    # the message must itself be sendable: a refused key is never echoed
    str(refused.value).encode("utf-8")


def test_the_first_bad_field_in_document_order_is_named() -> None:
    with pytest.raises(UnstorableText) as refused:
        check_tree({"a": "ok", "b": "\x00", "c": "\x00", "d": ["\x00"]})
    assert refused.value.field == "b"


def test_numbers_booleans_and_nulls_pass() -> None:
    check_tree({"limit": 5, "ratio": 1.5, "sensitive": True, "poll": None, "ids": [1, 2], 7: "non-string key"})


def test_a_document_nested_deeper_than_the_stack_is_walked() -> None:
    document: Any = "\x00"
    for _ in range(sys.getrecursionlimit() * 3):
        document = [document]
    with pytest.raises(UnstorableText):
        check_tree(document)


# ---- query strings and urlencoded bodies ---------------------------------------------------------------
def test_form_pairs_decode_as_starlette_does_for_valid_input() -> None:
    raw = b"status=caf%C3%A9+au+lait&media_ids%5B%5D=5&media_ids%5B%5D=6&empty=&flag&&plus=%2B"
    assert form_pairs(raw) == [
        ("status", "café au lait"),
        ("media_ids[]", "5"),
        ("media_ids[]", "6"),
        ("empty", ""),
        ("flag", ""),
        ("plus", "+"),
    ]
    assert form_pairs(b"") == []
    assert form_pairs("q=東京".encode()) == [("q", "東京")]  # raw UTF-8 bytes, not percent-encoded


def test_control_characters_in_a_form_pass() -> None:
    assert form_pairs(b"note=a%09b%0Ac%01") == [("note", "a\tb\nc\x01")]


@pytest.mark.parametrize(
    ("raw", "field", "reason"),
    [
        (b"q=%00", "q", "contains a NUL character"),
        (b"q=a\x00", "q", "contains a NUL character"),
        (b"q=%ED%A0%80", "q", "is not valid UTF-8"),  # a surrogate's UTF-8 form: Starlette would give U+FFFD
        (b"q=\xed\xa0\x80", "q", "is not valid UTF-8"),
        (b"q=caf%E9", "q", "is not valid UTF-8"),  # Latin-1
        (b"q=%C3", "q", "is not valid UTF-8"),  # cut short
        (b"ok=1&%00=x", "a parameter name", "contains a NUL character"),
        (b"ok=1&%FF=x", "a parameter name", "is not valid UTF-8"),
        (b"status=" + quote("\ud800".encode("utf-8", "surrogatepass")).encode(), "status", "is not valid UTF-8"),
    ],
)
def test_form_values_that_are_not_storable_utf8_are_refused_naming_the_field(
    raw: bytes, field: str, reason: str
) -> None:
    with pytest.raises(UnstorableText) as refused:
        form_pairs(raw)
    assert (refused.value.field, refused.value.reason) == (field, reason)


def test_split_form_keeps_the_pairs_that_pass_and_the_first_problem() -> None:
    pairs, refused = split_form(b"title=Welder&description=%00&location=%FF&currency=EUR")
    assert pairs == [("title", "Welder"), ("currency", "EUR")]
    assert refused is not None and refused.field == "description"
    assert split_form(b"a=1") == ([("a", "1")], None)
