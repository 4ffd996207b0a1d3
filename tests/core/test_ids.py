"""core.ids: what spells a record id, and what only looks like one."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from fediverse_biz.core.ids import MAX_ID, parse_cursor, parse_id


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1", 1),
        ("42", 42),
        ("110123456789012345", 110123456789012345),  # an id as next_id() makes them
        ("9223372036854775807", MAX_ID),
    ],
)
def test_ids_as_the_server_writes_them(text: str, expected: int) -> None:
    assert parse_id(text) == expected
    assert parse_cursor(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "²",  # str.isdigit() says yes, int() says no
        "٣",  # Arabic-Indic three: int() would read it as 3
        "\uff11\uff12",  # fullwidth digits
        "",
        " 1",
        "1 ",
        "1\n",
        "+1",
        "-1",
        "0",  # no row has it
        "007",  # one spelling per record
        "1_000",  # int() accepts the underscore
        "1e3",
        "0x10",
        "1.0",
        "9223372036854775808",  # 2**63: past the bigint
        "99999999999999999999",
        "1" * 5000,  # int() refuses it with its digit limit
        "1\x00",
        "\x00",
        "abc",
    ],
)
def test_what_only_looks_like_an_id_is_none(text: str) -> None:
    assert parse_id(text) is None


@pytest.mark.parametrize("value", [None, 1, 1.0, b"1", ["1"]])
def test_only_text_is_read(value: object) -> None:
    assert parse_id(value) is None


def test_a_cursor_may_be_zero_but_nothing_else_an_id_may_not_be() -> None:
    assert parse_cursor("0") == 0
    for text in ("00", "-0", "+0", " 0", "²", "9223372036854775808", ""):
        assert parse_cursor(text) is None


@given(st.integers(min_value=1, max_value=MAX_ID))
def test_every_id_reads_back(value: int) -> None:
    assert parse_id(str(value)) == value


@given(st.text())
def test_any_text_is_an_id_in_range_or_none(text: str) -> None:
    value = parse_id(text)
    assert value is None or (1 <= value <= MAX_ID and str(value) == text)
