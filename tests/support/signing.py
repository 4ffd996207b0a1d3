"""Helpers for the HTTP Signature tests: verify as remote.example does, hand-sign any coverage, expect a refusal.

Keys are looked up in KNOWN_KEYS: alice's fixed key under each of her keyId forms, and mallory's, generated
once per run.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import datetime

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from fediverse_biz.activitypub import _cavage
from fediverse_biz.activitypub.keys import generate_key_pair, load_private_key
from fediverse_biz.activitypub.signatures import (
    BadSignature,
    SignatureError,
    VerifiedSignature,
    digest_header,
    sign_request,
    sign_request_rfc9421,
    verify_request,
)
from tests.support.signature_vectors import (
    ALICE_ACTOR,
    ALICE_KEY,
    ALICE_PATH_KEY,
    ALICE_PRIVATE,
    ALICE_PUBLIC,
    AP_JSON,
    FOLLOW,
    INBOX,
    NOW,
)

MALLORY_PRIVATE, MALLORY_PUBLIC = generate_key_pair()

MALLORY_KEY = "https://evil.example/users/mallory#main-key"
KNOWN_KEYS = {
    ALICE_KEY: ALICE_PUBLIC,
    ALICE_PATH_KEY: ALICE_PUBLIC,
    ALICE_ACTOR: ALICE_PUBLIC,
    MALLORY_KEY: MALLORY_PUBLIC,
}


async def lookup(key_id: str) -> str | None:
    return KNOWN_KEYS.get(key_id)


async def verify(
    method: str,
    target: str,
    headers: Mapping[str, str],
    body: bytes = b"",
    *,
    now: datetime = NOW,
    authority: str | None = "remote.example",
) -> VerifiedSignature:
    """Verify a request for `target` ("/path?query") as received by remote.example."""
    path, _, query = target.partition("?")
    return await verify_request(method, path, query, headers, body, lookup, now=now, authority=authority)


def cavage_headers(
    method: str,
    target: str,
    covered: list[str],
    headers: dict[str, str],
    *,
    key_id: str = ALICE_KEY,
    private_pem: str = ALICE_PRIVATE,
    extra_params: str = 'algorithm="rsa-sha256"',
    params: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Hand-sign a request with any coverage, so policy checks are tested on mathematically valid input."""
    fields = {name.lower(): value for name, value in headers.items()}
    text = _cavage.build_signing_string(
        covered, request_target=f"{method.lower()} {target}", headers=fields, params=params or {}
    )
    signature = load_private_key(private_pem).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    b64 = base64.b64encode(signature).decode()
    value = f'keyId="{key_id}",{extra_params},headers="{" ".join(covered)}",signature="{b64}"'
    return {**headers, "Signature": value}


def signed_follow() -> dict[str, str]:
    """Alice's Follow to bob, signed at NOW as our delivery worker signs it."""
    return sign_request(
        "POST",
        INBOX,
        key_id=ALICE_KEY,
        private_key_pem=ALICE_PRIVATE,
        body=FOLLOW,
        headers={"Content-Type": AP_JSON},
        now=NOW,
    )


def base_headers(date: datetime = NOW, body: bytes | None = FOLLOW) -> dict[str, str]:
    headers = {"Host": "remote.example", "Date": _cavage.http_date(date)}
    if body is not None:
        headers |= {"Digest": digest_header(body), "Content-Type": AP_JSON}
    return headers


async def expect_refusal(
    headers: Mapping[str, str],
    match: str,
    *,
    method: str = "POST",
    body: bytes = FOLLOW,
    target: str = "/users/bob/inbox",
    now: datetime = NOW,
) -> None:
    with pytest.raises(SignatureError, match=match) as caught:
        await verify(method, target, headers, body, now=now)
    assert not isinstance(caught.value, BadSignature), "a policy refusal must not invite a key refetch"


def signed_9421(
    method: str = "POST", url: str = INBOX, body: bytes | None = FOLLOW, now: datetime = NOW
) -> dict[str, str]:
    return sign_request_rfc9421(method, url, key_id=ALICE_KEY, private_key_pem=ALICE_PRIVATE, body=body, now=now)
