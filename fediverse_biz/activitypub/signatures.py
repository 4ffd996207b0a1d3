"""HTTP Signatures: sign outgoing requests, verify incoming ones.

Two schemes, as the fediverse uses them (https://docs.joinmastodon.org/spec/security/):

- draft-cavage (`Signature: keyId=…,headers=…,signature=…`): what Mastodon, GoToSocial, Pleroma and
  Misskey send, and what we sign by default.
- RFC 9421 (`Signature-Input` + `Signature`): verified by Mastodon >= 4.5, sent first by Fedify.

Verification is a plain async function with the key lookup passed in (as bovine's
`build_validate_http_signature` is), so it runs without a server. The policy is Mastodon's
`app/lib/signed_request.rb` (https://github.com/mastodon/mastodon/blob/main/app/lib/signed_request.rb),
made stricter where noted. Every check that
needs no key runs before the lookup, so garbage never makes us fetch an actor. Wire formats live in
`_cavage.py` and `_rfc9421.py`; the RSA maths is `cryptography`, with keys parsed once (keys.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Awaitable, Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urlsplit

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from fediverse_biz.activitypub import _cavage, _rfc9421
from fediverse_biz.activitypub.keys import load_private_key, load_public_key

KeyLookup = Callable[[str], Awaitable[str | None]]  # keyId -> public key PEM, or None if unknown
_DigestParser = Callable[[str, Collection[str]], dict[str, bytes]]  # header value, algorithms -> digests

# Time window, as signed_request.rb `matches_time_window?`: a signature is valid from its creation time
# (Date or `created`) until `expires`, which defaults to created + 5 min and is capped at created + 12 h,
# with 1 h of clock skew either side. So a Date-signed request is accepted from 65 min ago to 1 h ahead.
CLOCK_SKEW_SECONDS = 60 * 60  # CLOCK_SKEW_MARGIN = 1.hour
DEFAULT_VALIDITY_SECONDS = 5 * 60  # expires ||= created + 5.minutes
MAX_VALIDITY_SECONDS = 12 * 60 * 60  # EXPIRATION_WINDOW_LIMIT = 12.hours
MAX_KEY_ID_LENGTH = 2048  # real keyIds are actor URLs; anything longer is not worth a lookup

_CAVAGE_ALGORITHMS = ("rsa-sha256", "hs2019")  # Mastodon: hs2019 means "from the key", i.e. RSA + SHA-256
_DIGESTS = {"sha-256": hashlib.sha256, "sha-512": hashlib.sha512}
_PKCS1 = padding.PKCS1v15()
_PSS_SHA512 = padding.PSS(mgf=padding.MGF1(hashes.SHA512()), salt_length=64)  # RFC 9421 §3.3.1


class SignatureError(Exception):
    """The request's signature cannot be accepted; the message says why (logs, 401 body)."""


class BadSignature(SignatureError):
    """The key was found but the signature does not verify with it.

    The one failure worth a retry: the caller may refetch the actor (key rotation) and verify once more.
    """


@dataclass(frozen=True)
class VerifiedSignature:
    key_id: str  # keyId as sent (fragment kept)
    scheme: str  # "cavage" or "rfc9421"
    covered: tuple[str, ...]  # covered headers / components, lower-case


@dataclass(frozen=True)
class _Request:
    method: str
    path: str
    query: str
    fields: dict[str, str]  # lower-case names, repeated fields joined with ", "
    body: bytes
    now: float
    authority: str | None
    scheme: str

    @property
    def needs_body_digest(self) -> bool:
        # Mastodon requires a signed digest on POST; any other body is just as unauthenticated without one.
        return self.method.upper() == "POST" or bool(self.body)


def digest_header(body: bytes) -> str:
    """RFC 3230 `Digest` value, as draft-cavage peers expect it."""
    return "SHA-256=" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def content_digest_header(body: bytes) -> str:
    """RFC 9530 `Content-Digest` value."""
    return "sha-256=:" + base64.b64encode(hashlib.sha256(body).digest()).decode("ascii") + ":"


def sign_request(
    method: str,
    url: str,
    *,
    key_id: str,
    private_key_pem: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign with draft-cavage rsa-sha256; return the headers to send: the given ones + Host, Date, Signature
    (+ Digest for a body).

    Covers `(request-target) host date`, plus `digest` and `content-type` (when given) for a body: what
    Mastodon, GoToSocial, Pleroma and Fedify all accept (Mastodon signs the same set, `app/lib/request.rb`).
    """
    host, path, query = _split_url(url)
    moment = _timestamp(now)
    out = _merge_headers(headers, host=host, now=moment)
    covered = [_cavage.REQUEST_TARGET, "host", "date"]
    if body is not None:
        out["Digest"] = digest_header(body)
        covered.append("digest")
        if _find(out, "content-type") is not None:
            covered.append("content-type")
    fields = {name.lower(): value for name, value in out.items()}
    target = f"{method.lower()} {path}?{query}" if query else f"{method.lower()} {path}"
    text = _cavage.build_signing_string(covered, request_target=target, headers=fields, params={})
    signature = load_private_key(private_key_pem).sign(text.encode("latin-1"), _PKCS1, hashes.SHA256())
    out["Signature"] = _cavage.format_signature(
        key_id=key_id, algorithm="rsa-sha256", covered=covered, signature=signature
    )
    return out


def sign_request_rfc9421(
    method: str,
    url: str,
    *,
    key_id: str,
    private_key_pem: str,
    body: bytes | None = None,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign with RFC 9421 rsa-v1_5-sha256, label `sig1`; return the headers to send.

    Covers `@method @target-uri` (+ `content-digest` for a body), Mastodon's minimum
    (https://docs.joinmastodon.org/spec/security/, "HTTP Message Signatures").
    """
    host, path, query = _split_url(url)
    moment = _timestamp(now)
    out = _merge_headers(headers, host=host, now=moment)
    names = ["@method", "@target-uri"]
    if body is not None:
        out["Content-Digest"] = content_digest_header(body)
        names.append("content-digest")
    lines = _rfc9421.component_values(
        names,
        fields={"content-digest": out.get("Content-Digest", "")},
        method=method.upper(),
        scheme=urlsplit(url).scheme,
        authority=host,
        path=path,
        query=query,
    )
    params: _rfc9421.Params = {"created": int(moment), "keyid": key_id, "alg": "rsa-v1_5-sha256"}
    signature_params = _rfc9421.serialize_inner_list([(name, {}) for name in names], params)
    base = _rfc9421.signature_base(lines, signature_params)
    signature = load_private_key(private_key_pem).sign(base.encode("latin-1"), _PKCS1, hashes.SHA256())
    out["Signature-Input"] = f"sig1={signature_params}"
    out["Signature"] = "sig1=" + _rfc9421.serialize_bare_item(signature)
    return out


async def verify_request(
    method: str,
    path: str,
    query: str,
    headers: Mapping[str, str],
    body: bytes,
    key_lookup: KeyLookup,
    *,
    now: datetime | None = None,
    authority: str | None = None,
    scheme: str = "https",
) -> VerifiedSignature:
    """Verify a request's draft-cavage or RFC 9421 signature; raise SignatureError if it cannot be accepted.

    `path` and `query` are as sent on the wire (still percent-encoded: ASGI `raw_path`), query without "?".
    `authority` is the host[:port] the request was addressed to (our domain); it defaults to the Host
    header. Exceptions raised by `key_lookup` itself propagate unchanged.
    """
    request = _Request(
        method=method,
        path=path or "/",
        query=query,
        fields=_normalise_headers(headers),
        body=body,
        now=_timestamp(now),
        authority=authority,
        scheme=scheme,
    )
    if "signature-input" in request.fields:  # as Mastodon: Signature-Input means RFC 9421
        return await _verify_rfc9421(request, key_lookup)
    raw = request.fields.get("signature")
    if raw is None:
        auth_scheme, _, rest = request.fields.get("authorization", "").partition(" ")
        if auth_scheme.lower() == "signature":  # the draft's original Authorization form
            raw = rest
    if raw is None:
        raise SignatureError("request is not signed")
    return await _verify_cavage(request, raw, key_lookup)


async def _verify_cavage(request: _Request, raw: str, key_lookup: KeyLookup) -> VerifiedSignature:
    try:
        params = _cavage.parse_params(raw)
    except ValueError as exc:
        raise SignatureError(f"malformed Signature header: {exc}") from None
    key_id, encoded = params.get("keyId", ""), params.get("signature", "")
    if not key_id or not encoded:
        raise SignatureError("Signature header needs keyId and signature")
    _check_key_id(key_id)
    algorithm = params.get("algorithm", "hs2019").lower()  # signed_request.rb: absent means hs2019
    if algorithm not in _CAVAGE_ALGORITHMS:
        raise SignatureError(f"unsupported signature algorithm {algorithm[:40]!r}")
    # The draft's default list: "(created)" for hs2019, "date" before it (Mastodon follows both). Neither
    # covers (request-target), so a missing `headers` is refused below anyway.
    covered = tuple(params.get("headers", "(created)" if algorithm == "hs2019" else "date").lower().split())

    # Coverage (signed_request.rb `verify_signature_strength!`). Stricter than Mastodon: (request-target)
    # is always required, or a signature could be replayed against another path of ours.
    if _cavage.REQUEST_TARGET not in covered:
        raise SignatureError("signature must cover (request-target)")
    if "date" not in covered and _cavage.CREATED not in covered:
        raise SignatureError("signature must cover date or (created)")
    if request.needs_body_digest and "digest" not in covered:
        raise SignatureError("signature must cover digest on a request with a body")
    if request.method.upper() in ("GET", "HEAD") and "host" not in covered:
        raise SignatureError("signature must cover host on GET")
    if algorithm != "hs2019" and (_cavage.CREATED in covered or _cavage.EXPIRES in covered):
        raise SignatureError("(created)/(expires) are only defined for hs2019")  # draft-cavage-12 §2.3

    try:
        created_times = [_cavage.parse_timestamp(params["created"])] if "created" in params else []
        if "date" in covered:
            if "date" not in request.fields:
                raise ValueError("Date header missing")
            created_times.append(_cavage.parse_http_date(request.fields["date"]))
        expires = _cavage.parse_timestamp(params["expires"]) if "expires" in params else None
    except ValueError as exc:
        raise SignatureError(str(exc)) from None
    # An explicit expires may lengthen the window only when it is signed; any expires may shorten it.
    _check_time_window(created_times, expires, signed_expires=_cavage.EXPIRES in covered, now=request.now)
    if "digest" in covered:
        _check_body_digest("Digest", request.fields.get("digest"), request.body, _cavage.parse_digest)
    if "host" in covered:
        _check_host(request)
    try:
        signature = _cavage.decode_base64(encoded)
        targets = [f"{request.path}?{request.query}", request.path] if request.query else [request.path]
        # Mastodon tries with the query string, then without (its own old senders dropped it).
        candidates = [
            _cavage.build_signing_string(
                covered,
                request_target=f"{request.method.lower()} {target}",
                headers=request.fields,
                params=params,
            ).encode("latin-1")
            for target in targets
        ]
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"cannot rebuild the signed string: {exc}") from None

    key = await _lookup_key(key_lookup, key_id)
    if not any(_rsa_verifies(key, signature, data, _PKCS1, hashes.SHA256()) for data in candidates):
        raise BadSignature(f"signature does not verify with key {key_id[:200]}")
    return VerifiedSignature(key_id=key_id, scheme="cavage", covered=covered)


async def _verify_rfc9421(request: _Request, key_lookup: KeyLookup) -> VerifiedSignature:
    try:
        inputs = _rfc9421.parse_dictionary(request.fields["signature-input"])
        signatures = _rfc9421.parse_dictionary(request.fields.get("signature", ""))
    except ValueError as exc:
        raise SignatureError(f"malformed Signature-Input/Signature: {exc}") from None
    if not inputs:
        raise SignatureError("Signature-Input is empty")
    label, (components, params) = next(iter(inputs.items()))  # the first signature is the one we check
    signature = signatures.get(label, (None, {}))[0]
    if not isinstance(components, list) or not isinstance(signature, bytes):
        raise SignatureError(f"signature {label[:40]!r} is not an inner list with a byte-sequence signature")

    names: list[str] = []
    for value, item_params in components:
        if type(value) is not str or item_params or value != value.lower() or value in names:
            raise SignatureError("unsupported, parameterised, upper-case or repeated component")
        names.append(value)
    created, expires = params.get("created"), params.get("expires", None)
    key_id, alg = params.get("keyid"), params.get("alg", None)
    if type(created) is not int or (expires is not None and type(expires) is not int):
        raise SignatureError("created (integer) is required; expires must be an integer")
    if type(key_id) is not str or not key_id:
        raise SignatureError("keyid (string) is required")
    if alg is not None and alg not in ("rsa-v1_5-sha256", "rsa-pss-sha512"):
        raise SignatureError(f"unsupported alg {str(alg)[:40]!r}")
    _check_key_id(key_id)

    # Coverage: Mastodon requires @method and @target-uri; @authority + @path says the same for the
    # parts we route on. A body needs a covered Content-Digest (signed_request.rb HttpMessageSignature).
    if "@method" not in names:
        raise SignatureError("signature must cover @method")
    if "@target-uri" not in names and not {"@authority", "@path"} <= set(names):
        raise SignatureError("signature must cover @target-uri (or @authority and @path)")
    if request.needs_body_digest and "content-digest" not in names:
        raise SignatureError("signature must cover content-digest on a request with a body")
    _check_time_window([float(created)], expires, signed_expires=True, now=request.now)
    if "content-digest" in names:
        _check_body_digest(
            "Content-Digest", request.fields.get("content-digest"), request.body, _rfc9421.parse_content_digest
        )

    try:
        lines = _rfc9421.component_values(
            names,
            fields=request.fields,
            method=request.method,
            scheme=request.scheme,
            authority=request.authority or request.fields.get("host", ""),
            path=request.path,
            query=request.query,
        )
        signature_params = _rfc9421.serialize_inner_list(components, params)
        base = _rfc9421.signature_base(lines, signature_params).encode("latin-1")
    except (ValueError, UnicodeEncodeError) as exc:
        raise SignatureError(f"cannot rebuild the signature base: {exc}") from None

    key = await _lookup_key(key_lookup, key_id)
    # No alg: RFC 9421 §3.3 derives it from the key; for RSA keys try Mastodon's v1.5 first, then PSS.
    schemes: list[tuple[padding.AsymmetricPadding, hashes.HashAlgorithm]] = []
    if alg in (None, "rsa-v1_5-sha256"):
        schemes.append((_PKCS1, hashes.SHA256()))
    if alg in (None, "rsa-pss-sha512"):
        schemes.append((_PSS_SHA512, hashes.SHA512()))
    if not any(_rsa_verifies(key, signature, base, pad, algo) for pad, algo in schemes):
        raise BadSignature(f"signature does not verify with key {key_id[:200]}")
    return VerifiedSignature(key_id=key_id, scheme="rfc9421", covered=tuple(names))


def _check_time_window(created_times: list[float], expires: float | None, *, signed_expires: bool, now: float) -> None:
    if expires is not None and now > expires + CLOCK_SKEW_SECONDS:
        raise SignatureError("signature has expired")
    for created in created_times:
        if created > now + CLOCK_SKEW_SECONDS:
            raise SignatureError("signature date is in the future")
        until = expires if signed_expires and expires is not None else created + DEFAULT_VALIDITY_SECONDS
        if now > min(until, created + MAX_VALIDITY_SECONDS) + CLOCK_SKEW_SECONDS:
            raise SignatureError("signature date is too old")


def _check_body_digest(field: str, header: str | None, body: bytes, parse: _DigestParser) -> None:
    """The `field` header, Digest (RFC 3230) or Content-Digest (RFC 9530), read by `parse`: SHA-256 and/or
    SHA-512; one known algorithm must match and none may mismatch."""
    if header is None:
        raise SignatureError(f"{field} header missing")
    try:
        offered = parse(header, _DIGESTS)
    except ValueError as exc:
        raise SignatureError(f"malformed {field} header: {exc}") from None
    if not offered:
        raise SignatureError("no supported digest algorithm (sha-256, sha-512)")
    for name, value in offered.items():
        if not hmac.compare_digest(value, _DIGESTS[name](body).digest()):
            raise SignatureError(f"body does not match its {name} digest")


def _check_host(request: _Request) -> None:
    """A signed Host must name this server, or a request signed for another host could be replayed here."""
    if request.authority is None:
        return
    host = request.fields.get("host", "")
    if _rfc9421.normalise_authority(host, request.scheme) != _rfc9421.normalise_authority(
        request.authority, request.scheme
    ):
        raise SignatureError(f"signed Host {host[:80]!r} is not this server")


def _check_key_id(key_id: str) -> None:
    if len(key_id) > MAX_KEY_ID_LENGTH or not key_id.isprintable():
        raise SignatureError("keyId is too long or has control characters")


async def _lookup_key(key_lookup: KeyLookup, key_id: str) -> rsa.RSAPublicKey:
    pem = await key_lookup(key_id)
    if not pem:
        raise SignatureError(f"unknown key {key_id[:200]}")
    try:
        return load_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        # Worth a refetch, like a signature that does not verify: the key we hold may be garbage a peer
        # once sent in an Update while the one it serves now is fine (tests/reliability/test_inbox_fuzz.py).
        raise BadSignature(f"unusable public key for {key_id[:200]}: {exc}") from None


def _rsa_verifies(
    key: rsa.RSAPublicKey,
    signature: bytes,
    data: bytes,
    pad: padding.AsymmetricPadding,
    algo: hashes.HashAlgorithm,
) -> bool:
    try:
        key.verify(signature, data, pad, algo)
    except InvalidSignature:
        return False
    return True


def _normalise_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Lower-case names; repeated fields (starlette's Headers.items() keeps them) joined with ", "."""
    fields: dict[str, str] = {}
    for name, value in headers.items():
        key, value = name.lower(), value.strip()
        fields[key] = f"{fields[key]}, {value}" if key in fields else value
    return fields


def _timestamp(now: datetime | None) -> float:
    if now is None:
        return datetime.now(UTC).timestamp()
    return (now if now.tzinfo is not None else now.replace(tzinfo=UTC)).timestamp()


def _split_url(url: str) -> tuple[str, str, str]:
    """URL -> (Host header value, path, query)."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise ValueError(f"not an absolute URL: {url!r}")
    return parts.netloc.rpartition("@")[2], parts.path or "/", parts.query


def _merge_headers(headers: Mapping[str, str] | None, *, host: str, now: float) -> dict[str, str]:
    """The caller's headers, minus any the signer owns, plus Host and Date."""
    owned = {"host", "date", "digest", "content-digest", "signature", "signature-input"}
    out = {name: value for name, value in (headers or {}).items() if name.lower() not in owned}
    out["Host"] = host
    out["Date"] = _cavage.http_date(datetime.fromtimestamp(now, UTC))
    return out


def _find(headers: Mapping[str, str], name: str) -> str | None:
    return next((value for key, value in headers.items() if key.lower() == name), None)
