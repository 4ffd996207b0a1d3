"""Code lists in words: countries and their subdivisions (business/sectors.py)."""

from __future__ import annotations

import pytest

from fediverse_biz.business.sectors import region_name


@pytest.mark.parametrize(
    ("code", "name"),
    [
        ("DE", "Germany"),
        ("DE-BY", "Bayern, Germany"),
        ("FR-75C", "Paris, France"),
        ("DE-ZZ", "Germany"),  # a well-formed code the standard does not list: its country only
        ("XX", None),
        ("XX-1", None),
        ("", None),
        (None, None),
    ],
)
def test_region_names_say_the_subdivision_and_its_country(code: str | None, name: str | None) -> None:
    assert region_name(code) == name
