"""Signed form tokens (CSRF and tickets on the pages): forged ones are refused, never an error."""

from __future__ import annotations

import pytest

from fediverse_biz.core import oauth


@pytest.mark.parametrize("token", ["².abc", "١٢٣.abc", "1e3.abc", "", ".", "99999999999999.abc", "\x00.x"])
def test_a_forged_form_token_is_refused_not_an_error(token: str) -> None:
    assert oauth.verify_form_token("a secret of enough length, really", token, "csrf", [1], max_age=3600) is False


def test_a_form_token_verifies_for_its_purpose_and_parts_only() -> None:
    secret = "a secret of enough length, really"
    token = oauth.sign_form_token(secret, "csrf", [1])
    assert oauth.verify_form_token(secret, token, "csrf", [1], max_age=3600)
    assert not oauth.verify_form_token(secret, token, "csrf", [2], max_age=3600)
    assert not oauth.verify_form_token(secret, token, "other", [1], max_age=3600)
