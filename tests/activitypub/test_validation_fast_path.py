"""The compiled (jsonschema-rs) schema check and the Python one agree, so the fast path changes nothing.

activitypub/validation.py lets a document through when jsonschema-rs finds it valid and asks the
Python validator only about refusals; a document the Rust side accepted and the Python side would have
refused would slip past the inbox. These tests look for one: every fixture, every hostile case of
test_validation.py, and mutated real activities from the inbox fuzzer's strategy. Lone surrogates are
left out: they never reach the check (JSON parsing refuses them first) and Rust strings cannot hold them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fediverse_biz.activitypub import validation
from tests.activitypub.test_validation import FIXTURES, HOSTILE, kind_of
from tests.reliability.test_inbox_fuzz import REAL, mutated


def python_says_valid(kind: str, doc: object) -> bool:
    return next(validation._VALIDATORS[kind].iter_errors(doc), None) is None


def rust_says_valid(kind: str, doc: object) -> bool:
    return bool(validation._FAST[kind].is_valid(doc))


def has_surrogate(doc: object) -> bool:
    return any(0xD800 <= ord(c) <= 0xDFFF for c in json.dumps(doc, ensure_ascii=False))


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_both_validators_agree_on_every_real_payload(path: Path) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    for kind in ("activity", "actor", "object"):
        assert rust_says_valid(kind, doc) == python_says_valid(kind, doc), kind
    assert rust_says_valid(kind_of(doc), doc)


# The nesting case is refused by the depth check before either validator runs.
SCHEMA_CASES = [case for case in HOSTILE if "nested deeper" not in case[2]]


@pytest.mark.parametrize("case", SCHEMA_CASES, ids=[case[0] for case in SCHEMA_CASES])
def test_both_validators_refuse_each_hostile_case(case: tuple[str, Any, str]) -> None:
    _, doc, _ = case
    assert not rust_says_valid("activity", doc)
    assert not python_says_valid("activity", doc)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.sampled_from(REAL).flatmap(lambda named: mutated(named[1])))
def test_both_validators_agree_on_mutated_activities(doc: dict[str, Any]) -> None:
    if has_surrogate(doc):
        return
    assert rust_says_valid("activity", doc) == python_says_valid("activity", doc)
