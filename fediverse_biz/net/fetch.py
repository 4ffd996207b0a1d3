"""The one outgoing HTTP client: every request to another server goes through here.

SSRF is the threat (FEDERATION.md, "Security": outgoing requests): a peer controls URLs we fetch (actor,
key, object, WebFinger links, redirects) and DNS answers for its own names. So:

- the session's resolver drops every forbidden address it returns, so the check is made on the address
  actually connected to — DNS rebinding cannot slip in between check and connect (Fedify CVE-2024-39687;
  Mastodon checks inside `Request::Socket.open` for the same reason);
- aiohttp never calls the resolver for IP-literal hosts, so `request()` checks literals itself;
- redirects are followed by hand, at most 3 (Mastodon `follow(max_hops: 3)`), each hop re-validated and
  re-signed — Fedify CVE-2025-23221 (endless redirects, non-http schemes, private targets) and
  CVE-2026-77632 (signed fetches redirected to loopback);
- bodies are capped at 1 MB of decoded bytes and time is bounded (Mastodon `app/lib/request.rb`:
  `body_with_limit`, 5 s to connect, 30 s in all);
  a web page (`fetch_html`) is cut at the cap instead of refused, as Mastodon's `truncated_body`.

`fetch_ap_object` adds the identity rules Mastodon adopted after CVE-2024-23832 (its
`app/helpers/jsonld_helper.rb`): AP content type, 2xx, and `id` equal to the final URL.
"""

from __future__ import annotations

import asyncio
import inspect
import ipaddress
import json
import socket
import weakref
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from yarl import URL

from fediverse_biz.net.addresses import IPNetwork, is_forbidden_address, parse_networks

__all__ = [
    "AP_ACCEPT",
    "AP_CONTENT_TYPES",
    "HTML_CONTENT_TYPES",
    "JSON_CONTENT_TYPES",
    "MAX_DOCUMENT_BYTES",
    "MAX_REDIRECTS",
    "BlockedAddress",
    "ContentTypeError",
    "FetchError",
    "IdMismatch",
    "Response",
    "SafeResolver",
    "Signer",
    "TooLarge",
    "check_url",
    "create_session",
    "fetch_ap_object",
    "fetch_html",
    "fetch_json",
    "is_forbidden_address",
    "request",
]

MAX_DOCUMENT_BYTES = 1024 * 1024  # Mastodon's `body_with_limit(limit = 1.megabyte)`
MAX_REDIRECTS = 3  # Mastodon's `follow(max_hops: 3)`
CONNECT_TIMEOUT = 5.0  # seconds, for DNS and for the TCP connect (Mastodon: 5 s each)
READ_TIMEOUT = 10.0  # seconds between two reads (Mastodon: 10 s per operation)
TOTAL_TIMEOUT = 30.0  # seconds for a whole request() including redirects (Mastodon's read deadline)
CONNECTION_LIMIT = 100
CONNECTION_LIMIT_PER_HOST = 8  # be a polite peer; delivery adds its own per-host semaphore

AP_ACCEPT = 'application/activity+json, application/ld+json; profile="https://www.w3.org/ns/activitystreams"'
AP_CONTENT_TYPES = ("application/activity+json", "application/ld+json")
JSON_CONTENT_TYPES = ("application/jrd+json", "application/json")
HTML_CONTENT_TYPES = ("text/html",)
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_READ_CHUNK = 64 * 1024

Signer = Callable[[str, str, dict[str, str], bytes | None], dict[str, str] | Awaitable[dict[str, str]]]
"""(method, url, headers, body) -> the headers to send, with Date/Host/Digest/Signature added (or an
awaitable of them).

Called once per hop, with that hop's URL as it will be requested (fragment removed)."""


class FetchError(Exception):
    """A remote request failed; the message says why. `status` is the HTTP status, if there was one."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BlockedAddress(FetchError):
    """The target is, or resolves only to, an address we never connect to."""


class ContentTypeError(FetchError):
    """The response's Content-Type is not one the caller accepts."""


class IdMismatch(FetchError):
    """The fetched document's `id` is not the URL it was served from."""


class TooLarge(FetchError):
    """The body exceeded the byte cap."""


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    url: str  # the URL of the last hop, as requested (no fragment)
    headers: Mapping[str, str]  # case-insensitive (CIMultiDictProxy)
    body: bytes


class SafeResolver(AbstractResolver):
    """Wraps a real resolver and keeps only addresses we may connect to.

    The connector connects to exactly what this returns (and caches it), so the check covers the address
    used. Forbidden addresses are dropped rather than failing the lookup, so `localhost` with only
    127.0.0.0/8 allow-listed still works; if nothing is left, BlockedAddress is raised before any connect.
    """

    def __init__(
        self, inner: AbstractResolver, allowed: Sequence[IPNetwork], *, timeout: float = CONNECT_TIMEOUT
    ) -> None:
        self._inner = inner
        self._allowed = tuple(allowed)
        self._timeout = timeout

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        async with asyncio.timeout(self._timeout):
            results = await self._inner.resolve(host, port, family)
        permitted = [r for r in results if not is_forbidden_address(_parse_ip(r["host"]), self._allowed)]
        if not permitted:
            addresses = ", ".join(sorted({r["host"] for r in results})) or "nothing"
            raise BlockedAddress(f"{host} resolves to forbidden addresses only ({addresses})")
        return permitted

    async def close(self) -> None:
        await self._inner.close()


def _parse_ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    return ipaddress.ip_address(text)


# The allow-list of each session made by create_session(). aiohttp warns against subclassing
# ClientSession or setting attributes on it, so the policy lives here, keyed weakly by the session.
# A session missing from this map was not built by create_session() and is refused by request():
# that is how "one client for all remote requests" is enforced.
_ALLOWED_BY_SESSION: weakref.WeakKeyDictionary[aiohttp.ClientSession, tuple[IPNetwork, ...]] = (
    weakref.WeakKeyDictionary()
)


def create_session(
    allowed_networks: Sequence[str | IPNetwork] = (),
    *,
    user_agent: str,
    connect_timeout: float = CONNECT_TIMEOUT,
    total_timeout: float = TOTAL_TIMEOUT,
    resolver: AbstractResolver | None = None,
) -> aiohttp.ClientSession:
    """The process's single client session; create it in the lifespan (needs a running loop) and close it.

    `allowed_networks` is FEDIVERSE_BIZ_ALLOW_PRIVATE_ADDRESSES (empty in production). `resolver` replaces
    the system resolver (tests use a fake one); it is always wrapped in SafeResolver.
    """
    allowed = parse_networks(allowed_networks)
    connector = aiohttp.TCPConnector(
        resolver=SafeResolver(resolver or aiohttp.ThreadedResolver(), allowed, timeout=connect_timeout),
        limit=CONNECTION_LIMIT,
        limit_per_host=CONNECTION_LIMIT_PER_HOST,
    )
    session = aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(
            total=total_timeout, sock_connect=connect_timeout, sock_read=min(READ_TIMEOUT, total_timeout)
        ),
        headers={"User-Agent": user_agent},
        # No environment proxies: a proxy would connect on our behalf, past the address check.
        trust_env=False,
        # Stateless: no peer gets cookies set by another response.
        cookie_jar=aiohttp.DummyCookieJar(),
    )
    _ALLOWED_BY_SESSION[session] = allowed
    return session


def _check_url(url: str, allowed: Sequence[IPNetwork], *, previous: URL | None = None) -> URL:
    """Parse and validate one hop's URL; raise before any connection is attempted."""
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as exc:
        raise FetchError(f"invalid URL {url!r}: {exc}") from exc
    if parsed.scheme not in ("http", "https"):
        raise FetchError(f"refusing non-HTTP URL {url!r}")
    if previous is not None and previous.scheme == "https" and parsed.scheme == "http":
        raise FetchError(f"refusing redirect from HTTPS to plain HTTP {url!r}")
    if not parsed.raw_host:
        raise FetchError(f"URL has no host: {url!r}")
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise FetchError(f"refusing URL with credentials: {url!r}")
    host = parsed.host or ""
    try:
        literal: ipaddress.IPv4Address | ipaddress.IPv6Address | None = ipaddress.ip_address(host)
    except ValueError:
        literal = _legacy_ipv4(host)
        if literal is not None and not is_forbidden_address(literal, allowed):
            # 0x7f.1, 2130706433 and friends: no real peer uses them; they exist to dodge filters.
            raise FetchError(f"refusing non-canonical IPv4 literal {host!r}") from None
    if literal is not None and is_forbidden_address(literal, allowed):
        raise BlockedAddress(f"refusing forbidden address {literal} in {url!r}")
    return parsed


def check_url(session: aiohttp.ClientSession, url: str) -> None:
    """Raise FetchError if request() would refuse `url` before connecting (not HTTP, no host, credentials,
    a forbidden address literal). For URLs kept to be fetched later: a name resolving to a forbidden
    address is only caught when it is fetched."""
    allowed = _ALLOWED_BY_SESSION.get(session)
    if allowed is None:
        raise FetchError("session was not created by fetch.create_session(); refusing an unchecked client")
    _check_url(url, allowed)


def _legacy_ipv4(host: str) -> ipaddress.IPv4Address | None:
    """The address inet_aton() would make of `host` (e.g. '127.1', '0x7f000001'), or None."""
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except (OSError, ValueError, UnicodeError):
        return None


def _strip_fragment(url: str) -> str:
    # A fragment is never sent to the server: fetching `https://a.example/actor#main-key` means GET
    # https://a.example/actor, whose document's id is the fragment-less URL.
    return url.split("#", 1)[0]


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int, *, truncate: bool = False) -> bytes:
    # Content-Length is checked first (as Mastodon does), then the decoded stream is counted, so chunked
    # bodies and compression bombs stop at the cap instead of being buffered whole. `truncate` keeps the
    # first max_bytes and stops reading there (the connection is dropped, not drained).
    if not truncate and response.method != "HEAD" and (response.content_length or 0) > max_bytes:
        raise TooLarge(f"body of {response.url} announces {response.content_length} bytes", status=response.status)
    chunks: list[bytes] = []
    received = 0
    async for chunk in response.content.iter_chunked(_READ_CHUNK):
        received += len(chunk)
        if received > max_bytes:
            if truncate:
                chunks.append(chunk[: len(chunk) - (received - max_bytes)])
                break
            raise TooLarge(f"body of {response.url} exceeds {max_bytes} bytes", status=response.status)
        chunks.append(chunk)
    return b"".join(chunks)


async def request(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    signer: Signer | None = None,
    max_bytes: int = MAX_DOCUMENT_BYTES,
    follow_redirects: bool = True,
    truncate: bool = False,
) -> Response:
    """Send one request through the safe session and return the response whatever its status.

    GET redirects are followed (at most MAX_REDIRECTS), every hop validated and signed afresh, because a
    signature covers the request path and host. Other methods are never redirected: the 3xx is returned.
    Network errors and timeouts raise FetchError with status None. A body over `max_bytes` raises
    TooLarge, or with `truncate` is cut to its first `max_bytes`.
    """
    allowed = _ALLOWED_BY_SESSION.get(session)
    if allowed is None:
        raise FetchError("session was not created by fetch.create_session(); refusing an unchecked client")
    deadline = session.timeout.total
    try:
        async with asyncio.timeout(deadline):
            return await _request_hops(
                session,
                method.upper(),
                url,
                allowed,
                headers or {},
                body,
                signer,
                max_bytes,
                follow_redirects,
                truncate,
            )
    except TimeoutError as exc:
        raise FetchError(f"{method} {url} timed out after {deadline} s") from exc


async def _request_hops(
    session: aiohttp.ClientSession,
    method: str,
    url: str,
    allowed: Sequence[IPNetwork],
    headers: Mapping[str, str],
    body: bytes | None,
    signer: Signer | None,
    max_bytes: int,
    follow_redirects: bool,
    truncate: bool,
) -> Response:
    hop_url = _strip_fragment(url)
    target = _check_url(hop_url, allowed)
    redirects = 0
    while True:
        send_headers = dict(headers)
        if signer is not None:
            # Sign what aiohttp will send (yarl's normalised form), or the peer's check of the
            # (request-target) fails for URLs yarl rewrites (dot segments, percent-encoding).
            signed = signer(method, str(target), send_headers, body)
            # A signer may be a coroutine: deliveries sign in a thread (delivery.py says why).
            send_headers = await signed if inspect.isawaitable(signed) else signed
        try:
            async with session.request(
                method, target, headers=send_headers, data=body, allow_redirects=False
            ) as response:
                location = response.headers.get("Location")
                redirect = follow_redirects and method == "GET" and response.status in _REDIRECT_STATUSES
                if not redirect or location is None:
                    content = await _read_capped(response, max_bytes, truncate=truncate)
                    return Response(response.status, hop_url, response.headers, content)
                if redirects == MAX_REDIRECTS:
                    raise FetchError(f"more than {MAX_REDIRECTS} redirects fetching {url}", status=response.status)
        except FetchError:
            raise
        except TimeoutError as exc:
            # aiohttp's own total timeout, equal to the deadline above, can fire first: same answer.
            raise FetchError(f"{method} {hop_url} timed out after {session.timeout.total} s") from exc
        except (aiohttp.ClientError, OSError) as exc:
            raise FetchError(f"{method} {hop_url} failed: {exc!r}") from exc
        redirects += 1
        try:
            hop_url = _strip_fragment(str(target.join(URL(location))))
        except (ValueError, TypeError) as exc:
            raise FetchError(f"invalid redirect Location {location!r} from {hop_url}") from exc
        target = _check_url(hop_url, allowed, previous=target)


def _require_success(response: Response) -> None:
    if not 200 <= response.status < 300:
        raise FetchError(f"{response.url} answered HTTP {response.status}", status=response.status)


def _require_content_type(response: Response, accepted: Collection[str]) -> None:
    # Media type only, case-insensitive; parameters (charset, profile) do not matter. Mastodon is stricter
    # for application/ld+json (profile must name ActivityStreams); we accept it without,
    # since the point of the check — not treating an uploaded file as an AP document — holds either way.
    raw = response.headers.get("Content-Type", "")
    media_type = raw.split(";", 1)[0].strip().lower()
    if media_type not in accepted:
        raise ContentTypeError(
            f"{response.url} served Content-Type {raw!r}, expected one of {', '.join(accepted)}",
            status=response.status,
        )


def _parse_json_object(response: Response) -> dict[str, Any]:
    try:
        document = json.loads(response.body)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise FetchError(f"{response.url} did not return valid JSON: {exc}", status=response.status) from exc
    if not isinstance(document, dict):
        raise FetchError(f"{response.url} returned JSON that is not an object", status=response.status)
    return document


async def fetch_ap_object(session: aiohttp.ClientSession, url: str, *, signer: Signer | None = None) -> dict[str, Any]:
    """GET an ActivityPub document and prove it is authentic for the URL it came from.

    Raises FetchError (status 410 means the object was deleted), ContentTypeError, IdMismatch, TooLarge,
    BlockedAddress.

    Identity: the document's `id` must equal the final URL after redirects, compared as exact strings,
    fragment excepted (never sent over HTTP). No other normalisation (case, default port, trailing
    slash, percent-encoding): Mastodon compares `json['id'] == uri` and Pleroma's `contain_id_to_fetch`
    requires an exact match; every equivalence we add is one more way for a host to claim a URL it does
    not serve (CVE-2024-23832 came from trusting the document's `id` over the URL fetched).
    """
    response = await request(session, "GET", url, headers={"Accept": AP_ACCEPT}, signer=signer)
    _require_success(response)
    _require_content_type(response, AP_CONTENT_TYPES)
    document = _parse_json_object(response)
    if document.get("id") != response.url:
        raise IdMismatch(
            f"document id {document.get('id')!r} is not the URL it was served from, {response.url!r}",
            status=response.status,
        )
    return document


async def fetch_json(
    session: aiohttp.ClientSession,
    url: str,
    *,
    accept: str = "application/json",
    signer: Signer | None = None,
    content_types: Collection[str] | None = JSON_CONTENT_TYPES,
) -> dict[str, Any]:
    """GET a plain JSON object (WebFinger JRD, NodeInfo). `content_types=None` skips the type check."""
    response = await request(session, "GET", url, headers={"Accept": accept}, signer=signer)
    _require_success(response)
    if content_types is not None:
        _require_content_type(response, content_types)
    return _parse_json_object(response)


async def fetch_html(
    session: aiohttp.ClientSession, url: str, *, max_bytes: int = MAX_DOCUMENT_BYTES, truncate: bool = True
) -> Response:
    """GET a web page (the target of a profile link, a link to preview), unsigned: it is a site, not an
    ActivityPub peer.

    Redirects are followed and every hop checked as for any request. The page must answer 200 with
    text/html (FetchError, ContentTypeError otherwise). A longer page is cut at `max_bytes` and the rest
    never read: Mastodon's VerifyLinkService reads `truncated_body` (app/lib/request.rb), so the head of
    a huge page still counts and its size costs nothing more. With `truncate=False` a longer page is
    refused (TooLarge) once `max_bytes` have been read, as Mastodon's link cards read `body_with_limit`.
    """
    response = await request(
        session, "GET", url, headers={"Accept": "text/html"}, max_bytes=max_bytes, truncate=truncate
    )
    if response.status != 200:
        raise FetchError(f"{response.url} answered HTTP {response.status}", status=response.status)
    _require_content_type(response, HTML_CONTENT_TYPES)
    return response
