"""HTTP Signatures, draft-cavage: fixed vectors, the draft's own examples, cross-checks with httpsig, and the
forms peers really send that must be accepted.

Independent oracle: `httpsig` (draft-cavage, pycryptodome). Published vectors: draft-cavage-http-signatures-12
Appendix C. Refusals are in test_signatures_refusals.py, RFC 9421 in test_signatures_rfc9421.py.
"""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import httpsig
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from starlette.datastructures import Headers

from fediverse_biz.activitypub import _cavage
from fediverse_biz.activitypub.keys import load_private_key
from fediverse_biz.activitypub.signatures import (
    BadSignature,
    SignatureError,
    VerifiedSignature,
    content_digest_header,
    digest_header,
    sign_request,
    verify_request,
)
from tests.support.signature_vectors import (
    ALICE_ACTOR,
    ALICE_KEY,
    ALICE_PATH_KEY,
    ALICE_PRIVATE,
    ALICE_PUBLIC,
    AP_JSON,
    FIXED_GET_SIGNATURE,
    FIXED_POST_SIGNATURE,
    FOLLOW,
    INBOX,
    NOW,
    SPEC_BODY,
    SPEC_HEADERS,
    SPEC_NOW,
    SPEC_PRIVATE,
    SPEC_PUBLIC,
    SPEC_VECTORS,
)
from tests.support.signing import base_headers, cavage_headers, signed_follow, verify

# --- fixed vectors: a change in the signing string format must fail here -------------------------------


async def test_cavage_post_matches_fixed_vector() -> None:
    # given a Follow delivered by alice at a fixed instant
    headers = signed_follow()
    # then every header is exactly what a Mastodon-style peer receives
    assert headers == {
        "Content-Type": AP_JSON,
        "Host": "remote.example",
        "Date": "Wed, 01 May 2024 12:00:00 GMT",
        "Digest": "SHA-256=GYwYnH3BiO6aICFt0ThC5bUIJ4byvqdpWtR8m5fNkww=",
        "Signature": FIXED_POST_SIGNATURE,
    }
    # and the independent implementation agrees it is valid
    verifier = httpsig.HeaderVerifier(
        headers, ALICE_PUBLIC, method="POST", path="/users/bob/inbox", sign_header="signature"
    )
    assert verifier.verify()


async def test_cavage_get_matches_fixed_vector() -> None:
    headers = sign_request(
        "GET",
        "https://remote.example/users/bob/outbox?page=true",
        key_id=ALICE_KEY,
        private_key_pem=ALICE_PRIVATE,
        now=NOW,
    )
    assert headers == {
        "Host": "remote.example",
        "Date": "Wed, 01 May 2024 12:00:00 GMT",
        "Signature": FIXED_GET_SIGNATURE,
    }
    assert await verify("GET", "/users/bob/outbox?page=true", headers) == VerifiedSignature(
        ALICE_KEY, "cavage", ("(request-target)", "host", "date")
    )


def test_digest_helpers() -> None:
    # RFC 3230 / RFC 9530 encodings of the same SHA-256; the draft-cavage Appendix C body.
    assert digest_header(b'{"hello": "world"}') == "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    assert content_digest_header(b'{"hello": "world"}') == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"


# --- draft-cavage-http-signatures-12 Appendix C (1024-bit test key from the draft) ----------------------


@pytest.mark.parametrize("covered", list(SPEC_VECTORS))
def test_signing_string_reproduces_the_draft_examples(covered: str) -> None:
    # given the draft's request and key, when we build the signing string and sign it (PKCS#1 v1.5 is
    # deterministic), then we get the draft's published signature byte for byte
    text = _cavage.build_signing_string(
        covered.split(),
        request_target="post /foo?param=value&pet=dog",
        headers={name.lower(): value for name, value in SPEC_HEADERS.items()},
        params={},
    )
    signature = load_private_key(SPEC_PRIVATE).sign(text.encode(), padding.PKCS1v15(), hashes.SHA256())
    assert base64.b64encode(signature).decode() == SPEC_VECTORS[covered]


async def spec_lookup(key_id: str) -> str | None:
    return SPEC_PUBLIC if key_id == "Test" else None


async def verify_spec_example(covered: str, header: str = "Signature") -> VerifiedSignature:
    value = f'keyId="Test",algorithm="rsa-sha256",headers="{covered}",signature="{SPEC_VECTORS[covered]}"'
    if header == "Authorization":
        value = f"Signature {value}"
    headers = {**SPEC_HEADERS, header: value}
    return await verify_request(
        "POST", "/foo", "param=value&pet=dog", headers, SPEC_BODY, spec_lookup, now=SPEC_NOW, authority="example.com"
    )


@pytest.mark.parametrize("header", ["Signature", "Authorization"])
async def test_draft_all_headers_example_verifies(header: str) -> None:
    result = await verify_spec_example("(request-target) host date content-type digest content-length", header)
    assert result.key_id == "Test"
    assert result.covered == ("(request-target)", "host", "date", "content-type", "digest", "content-length")


@pytest.mark.parametrize(
    ("covered", "reason"),
    [("date", r"\(request-target\)"), ("(request-target) host date", "digest")],
)
async def test_draft_examples_too_weak_for_a_post_are_refused_by_policy(covered: str, reason: str) -> None:
    # mathematically valid, but a POST whose body is not covered by the signature
    with pytest.raises(SignatureError, match=reason) as caught:
        await verify_spec_example(covered)
    assert not isinstance(caught.value, BadSignature)


# --- cross-checks with httpsig (independent draft-cavage implementation) --------------------------------


@pytest.mark.parametrize("sign_header", ["signature", "authorization"])
async def test_httpsig_signed_post_verifies(sign_header: str) -> None:
    # given a delivery signed by httpsig the way Mastodon signs it
    covered = ["(request-target)", "host", "date", "digest"]
    signer = httpsig.HeaderSigner(ALICE_KEY, ALICE_PRIVATE, "rsa-sha256", covered, sign_header=sign_header)
    headers = dict(signer.sign(base_headers(), method="POST", path="/users/bob/inbox"))
    # when we verify it, then it is alice's
    result = await verify("POST", "/users/bob/inbox", headers, FOLLOW)
    assert result == VerifiedSignature(ALICE_KEY, "cavage", tuple(covered))


async def test_httpsig_signed_get_with_query_verifies() -> None:
    covered = ["(request-target)", "host", "date"]
    signer = httpsig.HeaderSigner(ALICE_PATH_KEY, ALICE_PRIVATE, "rsa-sha256", covered, sign_header="signature")
    headers = dict(signer.sign(base_headers(body=None), method="GET", path="/users/bob/outbox?page=2"))
    result = await verify("GET", "/users/bob/outbox?page=2", headers)
    assert result.key_id == ALICE_PATH_KEY


@pytest.mark.parametrize(
    ("method", "url", "body"),
    [("POST", INBOX, FOLLOW), ("GET", "https://remote.example/users/bob/outbox?page=2", None)],
)
async def test_our_signatures_verify_with_httpsig(method: str, url: str, body: bytes | None) -> None:
    headers = sign_request(method, url, key_id=ALICE_KEY, private_key_pem=ALICE_PRIVATE, body=body)
    path = url.removeprefix("https://remote.example")
    verifier = httpsig.HeaderVerifier(headers, ALICE_PUBLIC, method=method, path=path, sign_header="signature")
    assert verifier.verify()
    # and a tampered path fails in httpsig too, so the oracle is not vacuous
    tampered = httpsig.HeaderVerifier(headers, ALICE_PUBLIC, method=method, path=path + "x", sign_header="signature")
    assert not tampered.verify()


# --- accepted forms ------------------------------------------------------------------------------------


@pytest.mark.parametrize("key_id", [ALICE_KEY, ALICE_PATH_KEY, ALICE_ACTOR])
async def test_every_key_id_form_is_passed_to_the_lookup_unchanged(key_id: str) -> None:
    headers = sign_request("POST", INBOX, key_id=key_id, private_key_pem=ALICE_PRIVATE, body=FOLLOW, now=NOW)
    assert (await verify("POST", "/users/bob/inbox", headers, FOLLOW)).key_id == key_id


@pytest.mark.parametrize("algorithm", ['algorithm="hs2019"', 'algorithm="RSA-SHA256"', ""])
async def test_hs2019_uppercase_and_absent_algorithm_mean_rsa_sha256(algorithm: str) -> None:
    headers = signed_follow()
    headers["Signature"] = headers["Signature"].replace('algorithm="rsa-sha256",', f"{algorithm}," if algorithm else "")
    assert (await verify("POST", "/users/bob/inbox", headers, FOLLOW)).key_id == ALICE_KEY


async def test_hs2019_with_created_instead_of_date() -> None:
    # given an hs2019 signature dated by (created) only, as newer draft-cavage senders do
    created = str(int(NOW.timestamp()) - 30)
    covered = ["(request-target)", "(created)", "host", "digest"]
    headers = cavage_headers(
        "POST",
        "/users/bob/inbox",
        covered,
        {"Host": "remote.example", "Digest": digest_header(FOLLOW)},
        extra_params=f'algorithm="hs2019",created={created}',
        params={"created": created},
    )
    assert (await verify("POST", "/users/bob/inbox", headers, FOLLOW)).covered == tuple(covered)


async def test_signature_without_query_is_accepted_for_a_request_with_one() -> None:
    # Mastodon's old senders signed the path without the query; Mastodon still accepts that (app/lib/signed_request.rb).
    headers = cavage_headers("GET", "/users/bob/outbox", ["(request-target)", "host", "date"], base_headers(body=None))
    assert (await verify("GET", "/users/bob/outbox?page=2", headers)).key_id == ALICE_KEY


async def test_signature_with_query_does_not_verify_for_another_query() -> None:
    headers = sign_request(
        "GET",
        "https://remote.example/users/bob/outbox?page=2",
        key_id=ALICE_KEY,
        private_key_pem=ALICE_PRIVATE,
        now=NOW,
    )
    with pytest.raises(BadSignature):
        await verify("GET", "/users/bob/outbox?page=3", headers)


async def test_starlette_headers_and_sha512_digest_are_accepted() -> None:
    # given the caller's real header type, and a peer sending both SHA-256 and SHA-512 digests
    both = f"{digest_header(FOLLOW)}, SHA-512=" + base64.b64encode(hashlib.sha512(FOLLOW).digest()).decode()
    signed = cavage_headers(
        "POST", "/users/bob/inbox", ["(request-target)", "host", "date", "digest"], base_headers() | {"Digest": both}
    )
    raw = [(name.lower().encode(), value.encode()) for name, value in signed.items()]
    assert (await verify("POST", "/users/bob/inbox", Headers(raw=raw), FOLLOW)).key_id == ALICE_KEY


@pytest.mark.parametrize("minutes", [-64, 59])
async def test_date_inside_mastodon_window_is_accepted(minutes: int) -> None:
    # Mastodon: created + 5 min expiry + 1 h skew in the past; 1 h skew in the future.
    headers = signed_follow()
    assert await verify("POST", "/users/bob/inbox", headers, FOLLOW, now=NOW - timedelta(minutes=minutes))
