"""HTTP Signatures under hostile garbage: whatever arrives, the only exception verify_request raises is
SignatureError (property tests with hypothesis).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from fediverse_biz.activitypub.signatures import SignatureError
from tests.support.signature_vectors import FOLLOW
from tests.support.signing import base_headers, signed_9421, signed_follow, verify

VALID = signed_follow()
VALID_9421 = signed_9421()


def mutations(value: str) -> st.SearchStrategy[str]:
    """Random text, or the valid value with a few characters inserted, replaced or cut off."""
    edits = st.tuples(st.integers(0, len(value)), st.integers(0, 8), st.text(max_size=8)).map(
        lambda edit: value[: edit[0]] + edit[2] + value[edit[0] + edit[1] :]
    )
    return st.one_of(st.text(max_size=300), edits, st.integers(0, len(value)).map(lambda n: value[:n]))


@settings(max_examples=300, deadline=None, database=None)
@given(name=st.sampled_from(["Signature", "Date", "Digest", "Host"]), data=st.data())
async def test_garbage_in_cavage_headers_ends_as_signature_error(name: str, data: st.DataObject) -> None:
    headers = dict(VALID)
    headers[name] = data.draw(mutations(VALID[name]))
    try:
        await verify("POST", "/users/bob/inbox", headers, FOLLOW)
    except SignatureError:
        pass  # a harmless edit (e.g. whitespace) may still verify; anything else must be SignatureError


@settings(max_examples=300, deadline=None, database=None)
@given(name=st.sampled_from(["Signature-Input", "Signature", "Content-Digest"]), data=st.data())
async def test_garbage_in_rfc9421_headers_ends_as_signature_error(name: str, data: st.DataObject) -> None:
    headers = dict(VALID_9421)
    headers[name] = data.draw(mutations(VALID_9421[name]))
    try:
        await verify("POST", "/users/bob/inbox", headers, FOLLOW)
    except SignatureError:
        pass


@settings(max_examples=200, deadline=None, database=None)
@given(value=st.text(max_size=400))
async def test_random_signature_header_is_always_refused(value: str) -> None:
    with pytest.raises(SignatureError):
        await verify("POST", "/users/bob/inbox", base_headers() | {"Signature": value}, FOLLOW)
