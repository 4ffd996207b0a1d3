"""HTTP Signatures: fixed vectors, cross-checks with independent implementations, hostile input.

Independent oracles: `httpsig` (draft-cavage, pycryptodome) and `http_message_signatures` (RFC 9421).
Published vectors: draft-cavage-http-signatures-12 Appendix C and RFC 9421 §4.3 / Appendix B.2.3.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpsig
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.datastructures import Headers

from fediverse_biz.activitypub import _cavage
from fediverse_biz.activitypub.keys import generate_key_pair, load_private_key, load_public_key
from fediverse_biz.activitypub.signatures import (
    BadSignature,
    SignatureError,
    VerifiedSignature,
    content_digest_header,
    digest_header,
    sign_request,
    sign_request_rfc9421,
    verify_request,
)

# A fixed RSA-2048 key, generated once with keys.generate_key_pair() for these vectors. Test use only.
ALICE_PRIVATE = """-----BEGIN PRIVATE KEY-----
MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQCo5S2snSrnhobr
ZibFy/1NuyTe362omCC2DyIoNEK2jgewz8ny4B6J6osszLJRL+GwJPAsMMp1axJ5
NDWVgGD8QZM1DOd4QyGC9iWRCfaSQOAFo+TbYSCYLo9r/93ZThF3zpqjzYF8TESg
NgV9QD5w6wGql+VmBCfH0omNrfnnrlJ+3nhbyRm8xfZepu0uKRgYb4xKuz57XpLL
9rtqSEZFyBHQbdcqzW8TqdLpUGVpyyhF0EzZa2/jUOMcqt9KXbeLE87uyBGmRiNo
dcsSAMgVL57fnojVky6AcSd6VpiIVdPtFYO/Qqk8WX2Mm7/+aeDWmJBQcNzmdrsd
HOZbhWF1AgMBAAECggEACT3pLKAmwCev675+OzhLVxOwE88p2IKZaMYVytP5Qf8u
Lx/x8b3qqU9R1gJymTL8QhuqMVVqt9eMfjvytGP+/OWRIZEExX7oCq3NJnHk+uHK
xPaGyBnLfqhTSjW/69kqwqyKgyPPze1Dm4Ad0sdz4z7EPdzHYgGONEbW3X0e6392
pkXqc8FFNCYgFT+ySK8dqDIdjv4ZK4iSK3h+h0MHi/kyGayW+rlwJ+U1SmduBvqL
kvhH9G8THgH8RVTKwYK/02JVAjRwUyQBLNAttzXj8TMARx5qNeNppz2Q2EQOtYKO
owRXVvgd6WUUM9YaE/PwBTSBROmL+frj23A6lQfKrQKBgQDgee51/6b7TjaPbosH
QHU1ZIbuKr4wYiSMypoN2lldclZoMQTE8G/TYimKwEqBiA0x0KZJasWaTQgDbeOt
0KMeRFJ4YANlt1M2OlONOzcEHh0whWQgiVlzQjusUExAbPdr2biz7qH1a/zjHY5o
ATAZDKbC7h/Ml7cCCmTpoYPckwKBgQDAnRJN46dZKajUWyHWDb8uVESPUelm8wNN
RqvN4G1JTxJ4Jr/ms3J2Ht5v0TpmPnuA+IEMYtDm4H+OTPRdNqQeZsvVm0zbxYWH
00POYLvaz/oa/E5nDWb4yDFAyFcq2Tnd7GCR3EWXh2qNYFCQkukdxJ/eUEJLdYf7
cETUgfOW1wKBgQDenc2xVCJjo8NUJ4rVXEVg+BsgY19OWGZrAhoZlut9UwECP2q9
bL1Z40XThrPdFfIP7x6aPLtPNQm3bOmY3QqH37XyDzYPT+nEI7/slkcPXFYSYpdT
9SKyvYK0dsXINsiBOuCEASq5W6jmC8/IsTTkArn3I3SB0Av8iBZf5IAC5QKBgAvT
mSQfLk9TN4KSdelmvq5hjjQem24uza0ZAcOKXCt8J24pMu8/ZW/LRW0oM6XDgGHS
4FmaV6lVb3+VSgvPJxSWyz06Y+W6oxBL8IXjeqVcz8aIZ2f8cq4j3KJVqsR+wgbW
VLegBsXfErPLjibSXm3tfMNxuiBX/xl5M0C5GfPRAoGAGbILj9IDtL/pgYFG+nwZ
/HRzco1DCIjR2Rj/NXRpmvvoiQPZdbLhiKG8uuY1b95btOVpoIKKhyNedRBuAwd8
V+oTWDqac31hkVKyjJh8ufUoQ74BC0YZMC8x1IdQr64L8IKaGDosGJ/gMqTUPZ4g
N4lQn9uof7jtYtQCMqAG/6I=
-----END PRIVATE KEY-----
"""
ALICE_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAqOUtrJ0q54aG62Ymxcv9
Tbsk3t+tqJggtg8iKDRCto4HsM/J8uAeieqLLMyyUS/hsCTwLDDKdWsSeTQ1lYBg
/EGTNQzneEMhgvYlkQn2kkDgBaPk22EgmC6Pa//d2U4Rd86ao82BfExEoDYFfUA+
cOsBqpflZgQnx9KJja35565Sft54W8kZvMX2XqbtLikYGG+MSrs+e16Sy/a7akhG
RcgR0G3XKs1vE6nS6VBlacsoRdBM2Wtv41DjHKrfSl23ixPO7sgRpkYjaHXLEgDI
FS+e356I1ZMugHEnelaYiFXT7RWDv0KpPFl9jJu//mng1piQUHDc5na7HRzmW4Vh
dQIDAQAB
-----END PUBLIC KEY-----
"""
MALLORY_PRIVATE, MALLORY_PUBLIC = generate_key_pair()

ALICE_KEY = "https://fedi.example/users/alice#main-key"
ALICE_PATH_KEY = "https://fedi.example/users/alice/main-key"  # GoToSocial style
ALICE_ACTOR = "https://fedi.example/users/alice"
MALLORY_KEY = "https://evil.example/users/mallory#main-key"
KNOWN_KEYS = {
    ALICE_KEY: ALICE_PUBLIC,
    ALICE_PATH_KEY: ALICE_PUBLIC,
    ALICE_ACTOR: ALICE_PUBLIC,
    MALLORY_KEY: MALLORY_PUBLIC,
}

NOW = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
INBOX = "https://remote.example/users/bob/inbox"
FOLLOW = b'{"type":"Follow"}'
AP_JSON = "application/activity+json"


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


# --- fixed vectors: a change in the signing string format must fail here -------------------------------

FIXED_POST_SIGNATURE = (
    'keyId="https://fedi.example/users/alice#main-key",algorithm="rsa-sha256",'
    'headers="(request-target) host date digest content-type",'
    'signature="hGZ3NNFbsXr9/W2Wl8UWHu6eIkjaniDQ94gvNsfX2a67vnPNrxU+E4XeNXGvxEVe/v8LwyvwWSwp2hlP0c9Q9Igat'
    "O0oG/oLTU5WWSLTRxaQT/SM3844eL/+ZWHbOEPyVlr1u3je0LcrSR9nMh7mIBzfJB4iahNriggdRSl4t69Bqx1BgNdXtgDRmQMa8"
    "Rr9vXEO5/PZVFkvaHoaxr/J+a7rXtpsYMw1F+j9Hr4RACDIV9GAy0lqIde0JI69pl/e5agaQA6STppVZ7QDs424H9XNjPsdAeUg7"
    'YoDtRYoFDkSwcYt/jt6Qd1P4aazOjLp01GYy4XjfEQfcvK9pd/RqQ=="'
)
FIXED_GET_SIGNATURE = (
    'keyId="https://fedi.example/users/alice#main-key",algorithm="rsa-sha256",'
    'headers="(request-target) host date",'
    'signature="EhL5j92Rs1ghH6/0JjuvjRVH2Fhc1YsT+kvZtaGXPxAin/NsTakvA89YTzWlYu6CMQcftmzbg1gL10x9fItGgvFN'
    "b5lM7FnEa4QyGb2z4OjhmaY0x5ObjA7CarMuu+BaEi1/RU17ffCqKm8CgJ0Z6tp8kAXSioyQMbIDtU68uMLeZxzlwct1YH3gFeD+"
    "VbGU+tKOVTXfw/3uHcPjGK6Oaw3dZlYccrXDvcXwg1OrcrzVIFeaTxysBlngQoh1vMA/5OOgGf615pHtgjlFDwSt4RQ48FhOJd5q"
    'R5so3F0SSuE2OgnPXNMNcMW358A8sxEXfltl9Hn2jtfyyrCZw0/aMg=="'
)
FIXED_RFC9421_SIGNATURE = (
    "sig1=:Fv7KOY88rIFL4KTRZHtmu7GTEGgJLzKgenIyw4oAvPPadUvgxQV8JE99/JcEhSmTmUkVs3AX+OuIhQU/dPV939iHHBsSRm4o"
    "na18jKcCMYGZ0411GPR+k2NC7lF+eWpgTsgKZhVfIyloDzEcfzQztO7M0HwEbe1HNqPDdg//znhZVYx9SBoAVZTFVFiXEfYe5Gx9vP7G"
    "1JcfV6Er6B6NlsTjUoYsTUjyFNbZT2gSSp6LG+18W4Pfs6eSDdeWkHPyAgtoG5jzWf/27IXM6mIY6Jtjt8mpwWjiIPoRfyaPqmB6c2D"
    "KLNBzor15Vm4m/Xg1d6cxa7NwFIDYcP9VObGlwg==:"
)


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


async def test_rfc9421_post_matches_fixed_vector() -> None:
    headers = sign_request_rfc9421("POST", INBOX, key_id=ALICE_KEY, private_key_pem=ALICE_PRIVATE, body=FOLLOW, now=NOW)
    assert headers["Content-Digest"] == "sha-256=:GYwYnH3BiO6aICFt0ThC5bUIJ4byvqdpWtR8m5fNkww=:"
    assert headers["Signature-Input"] == (
        'sig1=("@method" "@target-uri" "content-digest");created=1714564800;'
        'keyid="https://fedi.example/users/alice#main-key";alg="rsa-v1_5-sha256"'
    )
    assert headers["Signature"] == FIXED_RFC9421_SIGNATURE


def test_digest_helpers() -> None:
    # RFC 3230 / RFC 9530 encodings of the same SHA-256; the draft-cavage Appendix C body.
    assert digest_header(b'{"hello": "world"}') == "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE="
    assert content_digest_header(b'{"hello": "world"}') == "sha-256=:X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=:"


# --- draft-cavage-http-signatures-12 Appendix C (1024-bit test key from the draft) ----------------------

SPEC_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDCFENGw33yGihy92pDjZQhl0C3
6rPJj+CvfSC8+q28hxA161QFNUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6
Z4UMR7EOcpfdUE9Hf3m/hs+FUR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJw
oYi+1hqp1fIekaxsyQIDAQAB
-----END PUBLIC KEY-----
"""
SPEC_PRIVATE = """-----BEGIN RSA PRIVATE KEY-----
MIICXgIBAAKBgQDCFENGw33yGihy92pDjZQhl0C36rPJj+CvfSC8+q28hxA161QF
NUd13wuCTUcq0Qd2qsBe/2hFyc2DCJJg0h1L78+6Z4UMR7EOcpfdUE9Hf3m/hs+F
UR45uBJeDK1HSFHD8bHKD6kv8FPGfJTotc+2xjJwoYi+1hqp1fIekaxsyQIDAQAB
AoGBAJR8ZkCUvx5kzv+utdl7T5MnordT1TvoXXJGXK7ZZ+UuvMNUCdN2QPc4sBiA
QWvLw1cSKt5DsKZ8UETpYPy8pPYnnDEz2dDYiaew9+xEpubyeW2oH4Zx71wqBtOK
kqwrXa/pzdpiucRRjk6vE6YY7EBBs/g7uanVpGibOVAEsqH1AkEA7DkjVH28WDUg
f1nqvfn2Kj6CT7nIcE3jGJsZZ7zlZmBmHFDONMLUrXR/Zm3pR5m0tCmBqa5RK95u
412jt1dPIwJBANJT3v8pnkth48bQo/fKel6uEYyboRtA5/uHuHkZ6FQF7OUkGogc
mSJluOdc5t6hI1VsLn0QZEjQZMEOWr+wKSMCQQCC4kXJEsHAve77oP6HtG/IiEn7
kpyUXRNvFsDE0czpJJBvL/aRFUJxuRK91jhjC68sA7NsKMGg5OXb5I5Jj36xAkEA
gIT7aFOYBFwGgQAQkWNKLvySgKbAZRTeLBacpHMuQdl1DfdntvAyqpAZ0lY0RKmW
G6aFKaqQfOXKCyWoUiVknQJAXrlgySFci/2ueKlIE1QqIiLSZ8V8OlpFLRnb1pzI
7U1yQXnTAEFYM560yJlzUpOb1V4cScGd365tiSMvxLOvTA==
-----END RSA PRIVATE KEY-----
"""
SPEC_HEADERS = {
    "Host": "example.com",
    "Date": "Sun, 05 Jan 2014 21:31:40 GMT",
    "Content-Type": "application/json",
    "Digest": "SHA-256=X48E9qOokqqrvdts8nOJRJN3OWDUoyWxBf7kbu9DBPE=",
    "Content-Length": "18",
}
SPEC_NOW = datetime(2014, 1, 5, 21, 31, 40, tzinfo=UTC)
SPEC_BODY = b'{"hello": "world"}'
SPEC_VECTORS = {  # C.1 default, C.2 basic, C.3 all headers
    "date": "SjWJWbWN7i0wzBvtPl8rbASWz5xQW6mcJmn+ibttBqtifLN7Sazz6m79cNfwwb8DMJ5cou1s7uEGKKCs+FLEEaDV5lp7q25Wq"
    "S+lavg7T8hc0GppauB6hbgEKTwblDHYGEtbGmtdHgVCk9SuS13F0hZ8FD0k/5OxEPXe5WozsbM=",
    "(request-target) host date": "qdx+H7PHHDZgy4y/Ahn9Tny9V3GP6YgBPyUXMmoxWtLbHpUnXS2mg2+SbrQDMCJypxBLSPQR2aAjn7"
    "ndmw2iicw3HMbe8VfEdKFYRqzic+efkb3nndiv/x1xSHDJWeSWkx3ButlYSuBskLu6kd9Fswtemr3lgdDEmn04swr2Os0=",
    "(request-target) host date content-type digest content-length": "vSdrb+dS3EceC9bcwHSo4MlyKS59iFIrhgYkz8+o"
    "VLEEzmYZZvRs8rgOp+63LEM3v+MFHB32NfpB2bEKBIvB1q52LaEUHFv120V01IL+TAD48XaERZFukWgHoBTLMhYS2Gb51gWxpeIq8knRmP"
    "nYePbF5MOkR0Zkly4zKH7s1dE=",
}


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


# --- RFC 9421 published vectors ---------------------------------------------------------------------------

RFC_RSA_PUBLIC = """-----BEGIN RSA PUBLIC KEY-----
MIIBCgKCAQEAhAKYdtoeoy8zcAcR874L8cnZxKzAGwd7v36APp7Pv6Q2jdsPBRrw
WEBnez6d0UDKDwGbc6nxfEXAy5mbhgajzrw3MOEt8uA5txSKobBpKDeBLOsdJKFq
MGmXCQvEG7YemcxDTRPxAleIAgYYRjTSd/QBwVW9OwNFhekro3RtlinV0a75jfZg
kne/YiktSvLG34lw2zqXBDTC5NHROUqGTlML4PlNZS5Ri2U4aCNx2rUPRcKIlE0P
uKxI4T+HIaFpv8+rdV6eUgOrB2xeI1dSFFn/nnv5OoZJEIB+VmuKn3DCUcCZSFlQ
PSXSfBDiUGhwOw76WuSSsf1D4b/vLoJ10wIDAQAB
-----END RSA PUBLIC KEY-----
"""  # RFC 9421 B.1.1 test-key-rsa (PKCS#1 form)
RFC_PSS_PUBLIC = """-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAr4tmm3r20Wd/PbqvP1s2
+QEtvpuRaV8Yq40gjUR8y2Rjxa6dpG2GXHbPfvMs8ct+Lh1GH45x28Rw3Ry53mm+
oAXjyQ86OnDkZ5N8lYbggD4O3w6M6pAvLkhk95AndTrifbIFPNU8PPMO7OyrFAHq
gDsznjPFmTOtCEcN2Z1FpWgchwuYLPL+Wokqltd11nqqzi+bJ9cvSKADYdUAAN5W
Utzdpiy6LbTgSxP7ociU4Tn0g5I6aDZJ7A8Lzo0KSyZYoA485mqcO0GVAdVw9lq4
aOT9v6d+nb4bnNkQVklLQ3fVAvJm+xdDOp9LCNCN48V2pnDOkFV6+U9nV5oyc6XI
2wIDAQAB
-----END PUBLIC KEY-----
"""  # RFC 9421 B.1.2 test-key-rsa-pss
RFC_DIGEST = "sha-512=:WZDPaVn/7XgHaAy8pmojAkGWoRx2UFChF41A2svX+TaPm+AbwAgBWnrIiYllu7BNNyealdVLvRwEmTHWXvJwew==:"
RFC_PROXY_HEADERS = {  # RFC 9421 §4.3: the reverse proxy's rsa-v1_5-sha256 signature
    "Host": "origin.host.internal.example",
    "Date": "Tue, 20 Apr 2021 02:07:56 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Forwarded": "for=192.0.2.123;host=example.com;proto=https",
    "Content-Digest": RFC_DIGEST,
    "Signature-Input": 'proxy_sig=("@method" "@authority" "@path" "content-digest" "content-type" '
    '"content-length" "forwarded");created=1618884480;keyid="test-key-rsa";alg="rsa-v1_5-sha256";'
    "expires=1618884540",
    "Signature": "proxy_sig=:S6ZzPXSdAMOPjN/6KXfXWNO/f7V6cHm7BXYUh3YD/fRad4BCaRZxP+JH+8XY1I6+8Cy+CM5g92iHgxtR"
    "Pz+MjniOaYmdkDcnL9cCpXJleXsOckpURl49GwiyUpZ10KHgOEe11sx3G2gxI8S0jnxQB+Pu68U9vVcasqOWAEObtNKKZd8tSFu7LB5YA"
    "v0RAGhB8tmpv7sFnIm9y+7X5kXQfi8NMaZaA8i2ZHwpBdg7a6CMfwnnrtflzvZdXAsD3LH2TwevU+/PBPv0B6NMNk93wUs/vfJvye+Yu"
    "I87HU38lZHowtznbLVdp770I6VHR6WfgS9ddzirrswsE1w5o0LV/g==:",
}
RFC_FULL_COVERAGE_HEADERS = {  # RFC 9421 B.2.3: rsa-pss-sha512 without an alg parameter
    "Host": "example.com",
    "Date": "Tue, 20 Apr 2021 02:07:55 GMT",
    "Content-Type": "application/json",
    "Content-Length": "18",
    "Content-Digest": RFC_DIGEST,
    "Signature-Input": 'sig-b23=("date" "@method" "@path" "@query" "@authority" "content-type" '
    '"content-digest" "content-length");created=1618884473;keyid="test-key-rsa-pss"',
    "Signature": "sig-b23=:bbN8oArOxYoyylQQUU6QYwrTuaxLwjAC9fbY2F6SVWvh0yBiMIRGOnMYwZ/5MR6fb0Kh1rIRASVxFkeGt"
    "683+qRpRRU5p2voTp768ZrCUb38K0fUxN0O0iC59DzYx8DFll5GmydPxSmme9v6ULbMFkl+V5B1TP/yPViV7KsLNmvKiLJH1pFkh/aYA2"
    "HXXZzNBXmIkoQoLd7YfW91kE9o/CCoC1xMy7JA1ipwvKvfrs65ldmlu9bpG6A9BmzhuzF8Eim5f8ui9eH8LZH896+QIF61ka39VBrohr"
    "9iyMUJpvRX2Zbhl5ZJzSRxpJyoEZAFL2FUo5fTIztsDZKEgM4cUA==:",
}


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
    # Mastodon's old senders signed the path without the query; Mastodon still accepts that (§1.4).
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


# --- refused: each a SignatureError, and BadSignature only for failed maths -----------------------------


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


# --- RFC 9421 ------------------------------------------------------------------------------------------


def signed_9421(
    method: str = "POST", url: str = INBOX, body: bytes | None = FOLLOW, now: datetime = NOW
) -> dict[str, str]:
    return sign_request_rfc9421(method, url, key_id=ALICE_KEY, private_key_pem=ALICE_PRIVATE, body=body, now=now)


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


# --- hostile garbage: whatever arrives, the only exception is SignatureError ---------------------------

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
