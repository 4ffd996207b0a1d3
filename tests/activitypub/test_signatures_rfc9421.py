"""HTTP Signatures, RFC 9421: our fixed vector, the RFC's published examples, cross-checks with
http_message_signatures (an independent RFC 9421 implementation), and what is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from fediverse_biz.activitypub.keys import load_private_key, load_public_key
from fediverse_biz.activitypub.signatures import (
    BadSignature,
    VerifiedSignature,
    content_digest_header,
    sign_request_rfc9421,
    verify_request,
)
from tests.support.signature_vectors import (
    ALICE_KEY,
    ALICE_PRIVATE,
    AP_JSON,
    FIXED_RFC9421_SIGNATURE,
    FOLLOW,
    INBOX,
    NOW,
    RFC_FULL_COVERAGE_HEADERS,
    RFC_PROXY_HEADERS,
    RFC_PSS_PUBLIC,
    RFC_RSA_PUBLIC,
    SPEC_BODY,
)
from tests.support.signing import KNOWN_KEYS, MALLORY_PRIVATE, expect_refusal, lookup, signed_9421, verify


async def test_rfc9421_post_matches_fixed_vector() -> None:
    headers = sign_request_rfc9421("POST", INBOX, key_id=ALICE_KEY, private_key_pem=ALICE_PRIVATE, body=FOLLOW, now=NOW)
    assert headers["Content-Digest"] == "sha-256=:GYwYnH3BiO6aICFt0ThC5bUIJ4byvqdpWtR8m5fNkww=:"
    assert headers["Signature-Input"] == (
        'sig1=("@method" "@target-uri" "content-digest");created=1714564800;'
        'keyid="https://fedi.example/users/alice#main-key";alg="rsa-v1_5-sha256"'
    )
    assert headers["Signature"] == FIXED_RFC9421_SIGNATURE


async def rfc_lookup(key_id: str) -> str | None:
    return {"test-key-rsa": RFC_RSA_PUBLIC, "test-key-rsa-pss": RFC_PSS_PUBLIC}.get(key_id)


async def verify_rfc_example(headers: Mapping[str, str], *, path: str = "/foo", created: int) -> VerifiedSignature:
    return await verify_request(
        "POST",
        path,
        "param=Value&Pet=dog",
        headers,
        SPEC_BODY,
        rfc_lookup,
        now=datetime.fromtimestamp(created + 20, UTC),
        authority=headers["Host"],
    )


async def test_rfc9421_proxy_example_verifies() -> None:
    result = await verify_rfc_example(RFC_PROXY_HEADERS, created=1618884480)
    assert result.scheme == "rfc9421"
    assert result.key_id == "test-key-rsa"
    assert "content-digest" in result.covered


async def test_rfc9421_full_coverage_pss_example_verifies() -> None:
    result = await verify_rfc_example(RFC_FULL_COVERAGE_HEADERS, created=1618884473)
    assert result.covered[:4] == ("date", "@method", "@path", "@query")


async def test_rfc9421_proxy_example_tampered_path_is_bad_signature() -> None:
    with pytest.raises(BadSignature):
        await verify_rfc_example(RFC_PROXY_HEADERS, path="/bar", created=1618884480)


# --- cross-checks with http_message_signatures (independent RFC 9421 implementation) --------------------


@dataclass
class HmsRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)


class HmsKeys(HTTPSignatureKeyResolver):
    def resolve_public_key(self, key_id: str) -> object:
        return load_public_key(KNOWN_KEYS[key_id])

    def resolve_private_key(self, key_id: str) -> object:
        return load_private_key(ALICE_PRIVATE)


async def test_http_message_signatures_signed_post_verifies() -> None:
    request = HmsRequest("POST", INBOX, {"Host": "remote.example", "Content-Type": AP_JSON})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.RSA_V1_5_SHA256, key_resolver=HmsKeys())
    signer.sign(request, key_id=ALICE_KEY, label="sig1", covered_component_ids=("@method", "@target-uri"), body=FOLLOW)
    result = await verify("POST", "/users/bob/inbox", request.headers, FOLLOW, now=datetime.now(UTC))
    assert result == VerifiedSignature(ALICE_KEY, "rfc9421", ("@method", "@target-uri", "content-digest"))


async def test_our_rfc9421_signature_verifies_with_http_message_signatures() -> None:
    headers = sign_request_rfc9421("POST", INBOX, key_id=ALICE_KEY, private_key_pem=ALICE_PRIVATE, body=FOLLOW)
    verifier = HTTPMessageVerifier(signature_algorithm=algorithms.RSA_V1_5_SHA256, key_resolver=HmsKeys())
    [result] = verifier.verify(HmsRequest("POST", INBOX, headers), body=FOLLOW)
    assert result.parameters["keyid"] == ALICE_KEY
    with pytest.raises(InvalidSignature):
        verifier.verify(HmsRequest("POST", INBOX + "x", headers), body=FOLLOW)


# --- RFC 9421 ------------------------------------------------------------------------------------------


async def test_rfc9421_round_trip_post_and_get() -> None:
    assert (await verify("POST", "/users/bob/inbox", signed_9421(), FOLLOW)).scheme == "rfc9421"
    got = await verify(
        "GET", "/users/bob/outbox?page=2", signed_9421("GET", "https://remote.example/users/bob/outbox?page=2", None)
    )
    assert got.covered == ("@method", "@target-uri")


@pytest.mark.parametrize(
    ("method", "target"),
    [("POST", "/users/carol/inbox"), ("PUT", "/users/bob/inbox"), ("POST", "/users/bob/inbox?x=1")],
)
async def test_rfc9421_tampered_request_is_bad_signature(method: str, target: str) -> None:
    with pytest.raises(BadSignature):
        await verify(method, target, signed_9421(), FOLLOW)


async def test_rfc9421_wrong_authority_is_bad_signature() -> None:
    with pytest.raises(BadSignature):
        await verify_request(
            "POST", "/users/bob/inbox", "", signed_9421(), FOLLOW, lookup, now=NOW, authority="evil.example"
        )


async def test_rfc9421_tampered_body_is_refused() -> None:
    await expect_refusal(signed_9421(), "does not match", body=b'{"type":"Block"}')


async def test_rfc9421_missing_content_digest_is_refused() -> None:
    headers = signed_9421()
    del headers["Content-Digest"]
    await expect_refusal(headers, "Content-Digest header missing")


async def test_rfc9421_content_digest_not_covered_is_refused() -> None:
    # given a body signed without content-digest coverage (no body passed to the signer)
    request = HmsRequest("POST", INBOX, {"Content-Digest": content_digest_header(FOLLOW)})
    signer = HTTPMessageSigner(signature_algorithm=algorithms.RSA_V1_5_SHA256, key_resolver=HmsKeys())
    signer.sign(
        request,
        key_id=ALICE_KEY,
        created=NOW,
        covered_component_ids=("@method", "@target-uri"),
        use_existing_digest=True,
    )
    await expect_refusal(request.headers, "must cover content-digest")


@pytest.mark.parametrize(("offset", "match"), [(timedelta(hours=2), "too old"), (timedelta(hours=-2), "future")])
async def test_rfc9421_stale_or_future_created_is_refused(offset: timedelta, match: str) -> None:
    await expect_refusal(signed_9421(now=NOW - offset), match)


async def test_rfc9421_unknown_alg_is_refused() -> None:
    headers = signed_9421()
    headers["Signature-Input"] = headers["Signature-Input"].replace("rsa-v1_5-sha256", "hmac-sha256")
    await expect_refusal(headers, "unsupported alg")


async def test_rfc9421_without_method_is_refused() -> None:
    headers = signed_9421()
    headers["Signature-Input"] = headers["Signature-Input"].replace('"@method" ', "")
    await expect_refusal(headers, "must cover @method")


async def test_rfc9421_forged_signature_is_bad_signature() -> None:
    headers = sign_request_rfc9421(
        "POST", INBOX, key_id=ALICE_KEY, private_key_pem=MALLORY_PRIVATE, body=FOLLOW, now=NOW
    )
    with pytest.raises(BadSignature):
        await verify("POST", "/users/bob/inbox", headers, FOLLOW)
