"""HTTP Signatures refused: each a SignatureError, and BadSignature only for failed maths (the one failure
worth a key refetch). Hand-signed requests make every policy check meet mathematically valid input.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from fediverse_biz.activitypub.signatures import (
    BadSignature,
    SignatureError,
    digest_header,
    sign_request,
    verify_request,
)
from tests.support.signature_vectors import ALICE_KEY, ALICE_PRIVATE, FOLLOW, INBOX, NOW
from tests.support.signing import MALLORY_PRIVATE, base_headers, cavage_headers, expect_refusal, signed_follow, verify


async def test_unsigned_request_is_refused() -> None:
    await expect_refusal(base_headers(), "not signed")
    await expect_refusal(base_headers() | {"Authorization": "Bearer abc"}, "not signed")


async def test_unknown_algorithm_is_refused() -> None:
    headers = signed_follow()
    headers["Signature"] = headers["Signature"].replace("rsa-sha256", "hmac-sha256")
    await expect_refusal(headers, "unsupported signature algorithm")


async def test_forged_signature_with_another_key_is_bad_signature() -> None:
    headers = sign_request("POST", INBOX, key_id=ALICE_KEY, private_key_pem=MALLORY_PRIVATE, body=FOLLOW, now=NOW)
    with pytest.raises(BadSignature):
        await verify("POST", "/users/bob/inbox", headers, FOLLOW)


async def test_tampered_path_is_bad_signature() -> None:
    with pytest.raises(BadSignature):
        await verify("POST", "/users/carol/inbox", signed_follow(), FOLLOW)


async def test_unknown_key_is_refused() -> None:
    headers = sign_request(
        "POST",
        INBOX,
        key_id="https://fedi.example/users/nobody#main-key",
        private_key_pem=ALICE_PRIVATE,
        body=FOLLOW,
        now=NOW,
    )
    await expect_refusal(headers, "unknown key")


async def test_unusable_public_key_is_refused() -> None:
    async def broken_lookup(key_id: str) -> str:
        return "-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n"

    with pytest.raises(SignatureError, match="unusable public key"):
        await verify_request("POST", "/users/bob/inbox", "", signed_follow(), FOLLOW, broken_lookup, now=NOW)


@pytest.mark.parametrize(
    ("offset", "match"),
    [(timedelta(hours=-2), "too old"), (timedelta(minutes=-66), "too old"), (timedelta(minutes=61), "future")],
)
async def test_date_outside_window_is_refused(offset: timedelta, match: str) -> None:
    await expect_refusal(signed_follow(), match, now=NOW - offset)


async def test_unparseable_date_is_refused() -> None:
    headers = cavage_headers(
        "POST",
        "/users/bob/inbox",
        ["(request-target)", "host", "date", "digest"],
        base_headers() | {"Date": "yesterday"},
    )
    await expect_refusal(headers, "Date")


async def test_expires_in_the_past_is_refused() -> None:
    created, expires = str(int(NOW.timestamp()) - 7300), str(int(NOW.timestamp()) - 3700)
    covered = ["(request-target)", "(created)", "(expires)", "host", "digest"]
    headers = cavage_headers(
        "POST",
        "/users/bob/inbox",
        covered,
        {"Host": "remote.example", "Digest": digest_header(FOLLOW)},
        extra_params=f'algorithm="hs2019",created={created},expires={expires}',
        params={"created": created, "expires": expires},
    )
    await expect_refusal(headers, "expired")


async def test_digest_mismatch_is_refused() -> None:
    await expect_refusal(signed_follow(), "does not match", body=b'{"type":"Block"}')


async def test_digest_with_one_mismatching_algorithm_is_refused() -> None:
    wrong = "SHA-512=" + base64.b64encode(hashlib.sha512(b"other").digest()).decode()
    digest = f"{digest_header(FOLLOW)},{wrong}"
    headers = cavage_headers(
        "POST", "/users/bob/inbox", ["(request-target)", "host", "date", "digest"], base_headers() | {"Digest": digest}
    )
    await expect_refusal(headers, "sha-512 digest")


async def test_digest_with_only_unknown_algorithms_is_refused() -> None:
    digest = "MD5=" + base64.b64encode(hashlib.md5(FOLLOW).digest()).decode()
    headers = cavage_headers(
        "POST", "/users/bob/inbox", ["(request-target)", "host", "date", "digest"], base_headers() | {"Digest": digest}
    )
    await expect_refusal(headers, "no supported digest")


async def test_missing_digest_header_is_refused() -> None:
    headers = signed_follow()
    del headers["Digest"]
    await expect_refusal(headers, "Digest header missing")


async def test_digest_not_covered_is_refused() -> None:
    headers = cavage_headers("POST", "/users/bob/inbox", ["(request-target)", "host", "date"], base_headers())
    await expect_refusal(headers, "must cover digest")


async def test_post_with_empty_body_still_needs_a_covered_digest() -> None:
    # Mastodon requires digest on every POST, not only on non-empty ones.
    headers = cavage_headers("POST", "/users/bob/inbox", ["(request-target)", "host", "date"], base_headers(body=None))
    await expect_refusal(headers, "must cover digest", body=b"")


async def test_request_target_not_covered_is_refused() -> None:
    headers = cavage_headers("POST", "/users/bob/inbox", ["host", "date", "digest"], base_headers())
    await expect_refusal(headers, r"must cover \(request-target\)")


async def test_host_not_covered_on_get_is_refused() -> None:
    headers = cavage_headers("GET", "/users/bob", ["(request-target)", "date"], base_headers(body=None))
    await expect_refusal(headers, "must cover host", method="GET", body=b"", target="/users/bob")


async def test_signature_for_another_host_is_refused() -> None:
    headers = sign_request(
        "POST",
        "https://other.example/users/bob/inbox",
        key_id=ALICE_KEY,
        private_key_pem=ALICE_PRIVATE,
        body=FOLLOW,
        now=NOW,
    )
    await expect_refusal(headers, "not this server")


async def test_created_with_rsa_sha256_is_refused() -> None:
    created = str(int(NOW.timestamp()))
    headers = cavage_headers(
        "POST",
        "/users/bob/inbox",
        ["(request-target)", "(created)", "host", "digest"],
        {"Host": "remote.example", "Digest": digest_header(FOLLOW)},
        extra_params=f'algorithm="rsa-sha256",created={created}',
        params={"created": created},
    )
    await expect_refusal(headers, "only defined for hs2019")


async def test_bad_signature_is_the_retryable_signature_error() -> None:
    # The caller refetches the actor once on BadSignature (key rotation); catching SignatureError covers both.
    assert issubclass(BadSignature, SignatureError)
