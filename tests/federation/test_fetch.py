"""The SSRF-safe client, against real aiohttp servers on 127.0.0.1 playing misbehaving peers.

No test talks to anything but 127.0.0.1: host names go through a fake resolver (or `localhost`), and
every socket aiohttp opens is checked to go to 127.0.0.1 (fixture `connected`), so even a broken address
check cannot make a test reach a private network.
"""

from __future__ import annotations

import asyncio
import gzip
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import aiohappyeyeballs
import aiohttp
import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from fediverse_biz.federation import fetch
from fediverse_biz.federation._addresses import parse_networks
from fediverse_biz.federation.fetch import (
    AP_ACCEPT,
    MAX_DOCUMENT_BYTES,
    BlockedAddress,
    ContentTypeError,
    FetchError,
    IdMismatch,
    SafeResolver,
    TooLarge,
    create_session,
    fetch_ap_object,
    fetch_json,
    is_forbidden_address,
)

AP_TYPE = "application/activity+json"
LOOPBACK_ONLY = ("127.0.0.1/32",)
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


class Peer:
    """A remote server on 127.0.0.1: one handler per path, and a record of every request it got."""

    def __init__(self) -> None:
        self.routes: dict[str, Handler] = {}
        self.hits: list[str] = []
        self.headers: dict[str, dict[str, str]] = {}
        self.release = asyncio.Event()  # slow handlers wait on it; set at teardown
        self._runner = web.AppRunner(self._app())
        self.port = 0

    def _app(self) -> web.Application:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._dispatch)
        return app

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.hits.append(request.path)
        self.headers[request.path] = dict(request.headers)
        handler = self.routes.get(request.path)
        if handler is None:
            return web.Response(status=404)
        return await handler(request)

    async def start(self) -> None:
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = self._runner.addresses[0][1]

    async def stop(self) -> None:
        self.release.set()
        await self._runner.cleanup()

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"http://{host}:{self.port}{path}"

    def serve_json(self, path: str, document: Any, content_type: str = AP_TYPE, status: int = 200) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, body=json.dumps(document).encode(), content_type=content_type)

        self.routes[path] = handler

    def serve_object(self, path: str, host: str = "127.0.0.1") -> dict[str, Any]:
        document = {"id": self.url(path, host), "type": "Note", "content": "hello"}
        self.serve_json(path, document)
        return document

    def redirect(self, path: str, location: str, status: int = 302) -> None:
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})

        self.routes[path] = handler


class FakeDNS(AbstractResolver):
    """Answers from a fixed table; unknown names fail, so nothing ever asks a real DNS server."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.lookups: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.lookups.append(host)
        if host not in self.records:
            raise OSError(f"fake DNS has no record for {host}")
        return [
            ResolveResult(
                hostname=host,
                host=address,
                port=port,
                family=socket.AF_INET6 if ":" in address else socket.AF_INET,
                proto=0,
                flags=socket.AI_NUMERICHOST | socket.AI_NUMERICSERV,
            )
            for address in self.records[host]
        ]

    async def close(self) -> None:
        pass


SessionFactory = Callable[..., aiohttp.ClientSession]


@pytest.fixture(autouse=True)
def connected(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every address a test's sessions open a socket to; anything but 127.0.0.1 fails the test first.

    This wraps the one place aiohttp turns resolved addresses into sockets, so it sees what the address
    checks let through, and stops a broken check from ever reaching a real private network.
    """
    addresses: list[str] = []
    original = aiohappyeyeballs.start_connection

    async def start_connection(addr_infos: Sequence[Any], *args: Any, **kwargs: Any) -> socket.socket:
        targets = [info[4][0] for info in addr_infos]
        addresses.extend(targets)
        if any(target != "127.0.0.1" for target in targets):
            raise AssertionError(f"test tried to connect to {targets}")
        return await original(addr_infos, *args, **kwargs)

    monkeypatch.setattr(aiohappyeyeballs, "start_connection", start_connection)
    return addresses


@pytest.fixture
async def peer() -> AsyncIterator[Peer]:
    server = Peer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def sessions(peer: Peer) -> AsyncIterator[SessionFactory]:
    """create_session() for the test, closed afterwards (before the peer stops)."""
    made: list[aiohttp.ClientSession] = []

    def make(allowed: tuple[str, ...] = LOOPBACK_ONLY, **kwargs: Any) -> aiohttp.ClientSession:
        session = create_session(allowed, user_agent="fediverse_biz-tests", **kwargs)
        made.append(session)
        return session

    yield make
    for session in made:
        await session.close()


# --- the address policy, a pure function --------------------------------------------------------

FORBIDDEN = [
    "0.0.0.0",
    "0.1.2.3",
    "10.0.0.1",
    "10.255.255.255",
    "100.64.0.1",
    "100.127.255.254",
    "127.0.0.1",
    "127.255.0.9",
    "169.254.169.254",
    "172.16.0.1",
    "172.31.255.255",
    "192.0.0.8",
    "192.0.2.1",
    "192.88.99.1",
    "192.168.1.1",
    "198.18.0.1",
    "198.19.255.255",
    "198.51.100.7",
    "203.0.113.9",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "::",
    "::1",
    "::a00:1",  # deprecated IPv4-compatible form of 10.0.0.1
    "fe80::1",
    "fe80::1%eth0",
    "febf:ffff::1",
    "fec0::1",
    "fc00::1",
    "fd12:3456:789a::1",
    "ff02::1",
    "ff0e::1",
    "100::1",
    "2001:db8::1",
    "3fff::1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "2001:2::1",  # benchmarking
    "::ffff:10.0.0.1",  # IPv4-mapped private
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:93.184.216.34",  # mapped public: the prefix itself is forbidden
    "64:ff9b::a00:1",  # NAT64 of 10.0.0.1
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::5db8:d822",  # NAT64 of a public address: prefix forbidden
    "64:ff9b:1:a00:1:100::",  # local-use NAT64 (RFC 8215) of 10.0.0.1
    "64:ff9b:1::1",
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:5db8:d822::1",  # 6to4 of a public address: prefix forbidden
    "4000::1",  # outside 2000::/3 global unicast
]

PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "100.128.0.1", "2606:2800::1", "2a00:1450:4001:82b::200e"]


@pytest.mark.parametrize("address", FORBIDDEN)
def test_special_purpose_addresses_are_forbidden(address: str) -> None:
    assert is_forbidden_address(ipaddress.ip_address(address))


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_allowed(address: str) -> None:
    assert not is_forbidden_address(ipaddress.ip_address(address))


def test_allow_list_exempts_exactly_its_networks() -> None:
    allowed = parse_networks(["127.0.0.0/8", "fd00::/8"])
    assert not is_forbidden_address(ipaddress.ip_address("127.0.0.2"), allowed)
    assert not is_forbidden_address(ipaddress.ip_address("fd00::5"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("10.0.0.1"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("::1"), allowed)
    # The mapped form is a different address; exempting it takes its own entry.
    assert is_forbidden_address(ipaddress.ip_address("::ffff:127.0.0.1"), allowed)


def test_allow_listed_translation_prefix_still_checks_the_embedded_ipv4() -> None:
    # Given an IPv6-only host behind DNS64 that exempts the NAT64 prefix
    allowed = parse_networks(["64:ff9b::/96", "2002::/16"])
    # then public targets through the translator work, private ones do not
    assert not is_forbidden_address(ipaddress.ip_address("64:ff9b::5db8:d822"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("64:ff9b::a00:1"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("64:ff9b::a9fe:a9fe"), allowed)
    assert not is_forbidden_address(ipaddress.ip_address("2002:5db8:d822::1"), allowed)
    assert is_forbidden_address(ipaddress.ip_address("2002:c0a8:101::1"), allowed)


def test_allow_list_with_host_bits_is_a_configuration_error() -> None:
    with pytest.raises(ValueError):
        parse_networks(["10.0.0.1/8"])


async def test_resolver_drops_forbidden_answers_and_fails_when_none_remain() -> None:
    dns = FakeDNS({"mixed.example": ["10.0.0.1", "127.0.0.1", "fc00::1"], "inner.example": ["192.168.0.1"]})
    resolver = SafeResolver(dns, parse_networks(LOOPBACK_ONLY))
    answers = await resolver.resolve("mixed.example", 443)
    assert [a["host"] for a in answers] == ["127.0.0.1"]
    with pytest.raises(BlockedAddress):
        await resolver.resolve("inner.example", 443)


# --- connecting ---------------------------------------------------------------------------------


async def test_loopback_is_blocked_by_default(peer: Peer, sessions: SessionFactory, connected: list[str]) -> None:
    peer.serve_object("/note")
    with pytest.raises(BlockedAddress):
        await fetch.request(sessions(allowed=()), "GET", peer.url("/note"))
    assert connected == []
    assert peer.hits == []


async def test_localhost_name_is_blocked_by_default(peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_object("/note")
    with pytest.raises(BlockedAddress):
        await fetch.request(sessions(allowed=()), "GET", peer.url("/note", host="localhost"))
    assert peer.hits == []


async def test_name_resolving_to_loopback_is_blocked_at_connect_time(
    peer: Peer, sessions: SessionFactory, connected: list[str]
) -> None:
    # DNS rebinding: the name looks like any peer; only the address connected to tells.
    peer.serve_object("/note")
    dns = FakeDNS({"rebind.example": ["127.0.0.1"]})
    with pytest.raises(BlockedAddress):
        await fetch.request(sessions(allowed=(), resolver=dns), "GET", peer.url("/note", host="rebind.example"))
    assert dns.lookups == ["rebind.example"]
    assert connected == []
    assert peer.hits == []


@pytest.mark.parametrize(
    "url",
    [
        "http://10.0.0.1/",
        "http://192.168.1.1:8080/actor",
        "http://169.254.169.254/latest/meta-data/",
        "http://100.64.0.1/",
        "http://[fc00::1]/",
        "http://[fe80::1%25eth0]/",
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",
        "http://[64:ff9b::a00:1]/",
        "http://[2002:a00:1::1]/",
        "https://0.0.0.0/",
        "http://127.0.0.2/",  # loopback but outside the 127.0.0.1/32 allow-list
        "http://167772161/",  # 10.0.0.1 spelled as one number
        "http://0xa.1/",  # 10.0.0.1 in hex, short form
        "http://2130706434/",  # 127.0.0.2
        "http://012.0.0.1/",  # octal 10.0.0.1
    ],
)
async def test_literal_forbidden_addresses_fail_before_any_connection(
    url: str, sessions: SessionFactory, connected: list[str]
) -> None:
    with pytest.raises(BlockedAddress):
        await fetch.request(sessions(), "GET", url)
    assert connected == []


@pytest.mark.parametrize("host", ["2130706433", "0x7f.1", "127.1", "0177.0.0.1"])
async def test_legacy_spellings_of_an_allowed_address_are_refused_too(
    host: str, peer: Peer, sessions: SessionFactory
) -> None:
    with pytest.raises(FetchError, match="non-canonical"):
        await fetch.request(sessions(), "GET", f"http://{host}:{peer.port}/")
    assert peer.hits == []


async def test_loopback_is_reachable_when_allow_listed(peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_object("/note")
    response = await fetch.request(sessions(allowed=("127.0.0.0/8",)), "GET", peer.url("/note"))
    assert response.status == 200
    assert json.loads(response.body)["content"] == "hello"
    assert peer.hits == ["/note"]
    assert peer.headers["/note"]["User-Agent"] == "fediverse_biz-tests"


async def test_host_name_resolved_to_allowed_address_is_used(peer: Peer, sessions: SessionFactory) -> None:
    document = peer.serve_object("/note", host="peer.example")
    dns = FakeDNS({"peer.example": ["10.1.2.3", "127.0.0.1"]})  # the private answer is dropped
    fetched = await fetch_ap_object(sessions(resolver=dns), peer.url("/note", host="peer.example"))
    assert fetched == document
    assert peer.headers["/note"]["Host"] == f"peer.example:{peer.port}"


@pytest.mark.parametrize(
    "url",
    ["ftp://127.0.0.1/x", "file:///etc/passwd", "gopher://127.0.0.1:70/", "http:///nohost", "not a url"],
)
async def test_only_http_urls_are_fetched(url: str, sessions: SessionFactory, connected: list[str]) -> None:
    with pytest.raises(FetchError):
        await fetch.request(sessions(), "GET", url)
    assert connected == []


async def test_urls_with_credentials_are_refused(peer: Peer, sessions: SessionFactory) -> None:
    with pytest.raises(FetchError, match="credentials"):
        await fetch.request(sessions(), "GET", f"http://user:secret@127.0.0.1:{peer.port}/")
    assert peer.hits == []


async def test_a_session_not_made_by_create_session_is_refused(peer: Peer) -> None:
    async with aiohttp.ClientSession() as plain:
        with pytest.raises(FetchError, match="create_session"):
            await fetch.request(plain, "GET", peer.url("/"))
    assert peer.hits == []


async def test_refused_connection_is_a_fetch_error_without_status(sessions: SessionFactory) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago, now closed
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(FetchError) as raised:
        await fetch.request(sessions(), "GET", f"http://127.0.0.1:{port}/")
    assert raised.value.status is None


# --- redirects ----------------------------------------------------------------------------------


async def test_redirect_is_followed_and_id_must_equal_the_final_url(peer: Peer, sessions: SessionFactory) -> None:
    peer.redirect("/old", "/new", status=301)
    document = peer.serve_object("/new")
    assert await fetch_ap_object(sessions(), peer.url("/old")) == document
    assert peer.hits == ["/old", "/new"]


async def test_document_claiming_the_requested_url_after_redirect_is_rejected(
    peer: Peer, sessions: SessionFactory
) -> None:
    # Given /old redirects to /new, which claims to be /old (the CVE-2024-23832 pattern)
    peer.redirect("/old", "/new")
    peer.serve_json("/new", {"id": peer.url("/old"), "type": "Note"})
    with pytest.raises(IdMismatch):
        await fetch_ap_object(sessions(), peer.url("/old"))


@pytest.mark.parametrize("target", ["http://10.0.0.1/actor", "http://127.0.0.2:{port}/actor", "/private"])
async def test_redirect_to_a_forbidden_address_is_blocked(
    target: str, peer: Peer, sessions: SessionFactory, connected: list[str]
) -> None:
    dns = FakeDNS({"intranet.example": ["10.0.0.1"]})
    peer.redirect("/r", target.format(port=peer.port))
    peer.redirect("/private", f"http://intranet.example:{peer.port}/admin")
    with pytest.raises(BlockedAddress):
        await fetch_ap_object(sessions(resolver=dns), peer.url("/r"))
    assert set(connected) == {"127.0.0.1"}
    assert "/actor" not in peer.hits and "/admin" not in peer.hits


async def test_signed_fetch_redirected_to_loopback_is_blocked(peer: Peer, sessions: SessionFactory) -> None:
    # Fedify CVE-2026-77632: a signed GET redirected to loopback. Only 127.0.0.1 is allow-listed here,
    # so IPv6 loopback stands in for "our own machine".
    signed: list[str] = []

    def signer(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        signed.append(url)
        return headers | {"Signature": "sig"}

    peer.redirect("/x", f"http://[::1]:{peer.port}/admin")
    with pytest.raises(BlockedAddress):
        await fetch_ap_object(sessions(), peer.url("/x"), signer=signer)
    assert signed == [peer.url("/x")]
    assert peer.hits == ["/x"]


@pytest.mark.parametrize(("start", "ok"), [(1, True), (0, False)])
async def test_at_most_three_redirects_are_followed(start: int, ok: bool, peer: Peer, sessions: SessionFactory) -> None:
    # /r0 -> /r1 -> /r2 -> /r3 -> /done: from /r1 that is 3 redirects, from /r0 it is 4.
    for hop in range(4):
        peer.redirect(f"/r{hop}", f"/r{hop + 1}" if hop < 3 else "/done")
    document = peer.serve_object("/done")
    if ok:
        assert await fetch_ap_object(sessions(), peer.url(f"/r{start}")) == document
    else:
        with pytest.raises(FetchError, match="redirects"):
            await fetch_ap_object(sessions(), peer.url(f"/r{start}"))
        assert "/done" not in peer.hits


@pytest.mark.parametrize(
    "location",
    ["file:///etc/passwd", "gopher://127.0.0.1:70/_SET", "ftp://127.0.0.1/", "javascript:alert(1)"],
)
async def test_redirect_to_another_scheme_is_refused(
    location: str, peer: Peer, sessions: SessionFactory, connected: list[str]
) -> None:
    peer.redirect("/r", location)
    with pytest.raises(FetchError, match="non-HTTP"):
        await fetch.request(sessions(), "GET", peer.url("/r"))
    assert peer.hits == ["/r"]
    assert connected == ["127.0.0.1"]


async def test_non_get_requests_are_not_redirected(peer: Peer, sessions: SessionFactory) -> None:
    peer.redirect("/inbox", "/elsewhere", status=307)
    response = await fetch.request(sessions(), "POST", peer.url("/inbox"), body=b"{}")
    assert response.status == 307
    assert peer.hits == ["/inbox"]


async def test_redirects_can_be_left_to_the_caller(peer: Peer, sessions: SessionFactory) -> None:
    peer.redirect("/r", "/elsewhere")
    response = await fetch.request(sessions(), "GET", peer.url("/r"), follow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/elsewhere")
    assert peer.hits == ["/r"]


async def test_signer_signs_every_hop_for_its_own_url(peer: Peer, sessions: SessionFactory) -> None:
    calls: list[tuple[str, str, dict[str, str], bytes | None]] = []

    def signer(method: str, url: str, headers: dict[str, str], body: bytes | None) -> dict[str, str]:
        calls.append((method, url, dict(headers), body))
        return headers | {"Signature": f"signed {url}"}

    peer.redirect("/a", "/b")
    peer.redirect("/b", peer.url("/c"))
    peer.serve_object("/c")
    await fetch_ap_object(sessions(), peer.url("/a"), signer=signer)
    hops = [peer.url(path) for path in ("/a", "/b", "/c")]
    assert [(method, url) for method, url, _, _ in calls] == [("GET", url) for url in hops]
    assert all(headers == {"Accept": AP_ACCEPT} and body is None for _, _, headers, body in calls)
    assert [peer.headers[path]["Signature"] for path in ("/a", "/b", "/c")] == [f"signed {u}" for u in hops]


# --- what comes back ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content_type",
    [
        "application/activity+json",
        "application/activity+json; charset=utf-8",
        'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
        "application/ld+json",
        "Application/Activity+JSON",
    ],
)
async def test_activitypub_content_types_are_accepted(content_type: str, peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        body = json.dumps({"id": peer.url("/note")}).encode()
        return web.Response(body=body, headers={"Content-Type": content_type})

    peer.routes["/note"] = handler
    assert await fetch_ap_object(sessions(), peer.url("/note")) == {"id": peer.url("/note")}
    assert peer.headers["/note"]["Accept"] == AP_ACCEPT


@pytest.mark.parametrize("content_type", ["application/json", "text/html", "image/png", "application/jrd+json"])
async def test_other_content_types_are_rejected(content_type: str, peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_json("/upload.json", {"id": peer.url("/upload.json")}, content_type=content_type)
    with pytest.raises(ContentTypeError):
        await fetch_ap_object(sessions(), peer.url("/upload.json"))


@pytest.mark.parametrize(
    "claimed_id",
    [
        None,
        "http://elsewhere.example/note",
        "{url}/",
        "{url}?x=1",
        "{url}#frag",
        "HTTP://127.0.0.1:{port}/note",
    ],
)
async def test_id_must_be_exactly_the_url_served_from(
    claimed_id: str | None, peer: Peer, sessions: SessionFactory
) -> None:
    url = peer.url("/note")
    document = {"type": "Note"} if claimed_id is None else {"id": claimed_id.format(url=url, port=peer.port)}
    peer.serve_json("/note", document)
    with pytest.raises(IdMismatch):
        await fetch_ap_object(sessions(), url)


async def test_fragment_is_not_part_of_the_fetched_url(peer: Peer, sessions: SessionFactory) -> None:
    # Fetching a key id `…/actor#main-key` gets the actor document, whose id has no fragment.
    document = peer.serve_object("/actor")
    assert await fetch_ap_object(sessions(), peer.url("/actor") + "#main-key") == document
    assert peer.hits == ["/actor"]


@pytest.mark.parametrize(
    "body", [b"<html>not json</html>", b"[1, 2]", b'"id"', b"\xff\xfe", b"[" * 100_000 + b"]" * 100_000]
)
async def test_body_must_be_a_json_object(body: bytes, peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=body, content_type=AP_TYPE)

    peer.routes["/note"] = handler
    with pytest.raises(FetchError) as raised:
        await fetch_ap_object(sessions(), peer.url("/note"))
    assert type(raised.value) is FetchError
    assert raised.value.status == 200


@pytest.mark.parametrize("status", [410, 404, 401, 500])
async def test_error_status_is_reported(status: int, peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_json("/gone", {"id": peer.url("/gone"), "type": "Tombstone"}, status=status)
    with pytest.raises(FetchError) as raised:
        await fetch_ap_object(sessions(), peer.url("/gone"))
    assert raised.value.status == status


async def test_body_of_exactly_the_cap_is_accepted(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * MAX_DOCUMENT_BYTES)

    peer.routes["/big"] = handler
    response = await fetch.request(sessions(), "GET", peer.url("/big"))
    assert len(response.body) == MAX_DOCUMENT_BYTES


async def test_announced_oversized_body_is_refused(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=b"x" * (MAX_DOCUMENT_BYTES + 1), content_type=AP_TYPE)

    peer.routes["/big"] = handler
    with pytest.raises(TooLarge, match="announces"):
        await fetch_ap_object(sessions(), peer.url("/big"))


async def test_chunked_body_is_cut_off_at_the_cap(peer: Peer, sessions: SessionFactory) -> None:
    sent = 0

    async def handler(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": AP_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        try:
            for _ in range(256):  # 16 MB, no Content-Length: more than socket buffers hold
                await response.write(b" " * 65536)
                sent += 65536
            await response.write_eof()
        except ConnectionError:
            pass  # the client hung up, as it should
        return response

    peer.routes["/stream"] = handler
    with pytest.raises(TooLarge, match="exceeds"):  # counted while streaming, nothing was announced
        await fetch_ap_object(sessions(), peer.url("/stream"))
    assert sent < 256 * 65536  # the client hung up early


async def test_cap_applies_to_decompressed_bytes(peer: Peer, sessions: SessionFactory) -> None:
    bomb = gzip.compress(b" " * (4 * MAX_DOCUMENT_BYTES))

    async def handler(request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers={"Content-Type": AP_TYPE, "Content-Encoding": "gzip"})

    peer.routes["/bomb"] = handler
    assert len(bomb) < MAX_DOCUMENT_BYTES
    with pytest.raises(TooLarge, match="exceeds"):
        await fetch_ap_object(sessions(), peer.url("/bomb"))


async def test_smaller_cap_can_be_asked_for(peer: Peer, sessions: SessionFactory) -> None:
    peer.serve_object("/note")
    with pytest.raises(TooLarge):
        await fetch.request(sessions(), "GET", peer.url("/note"), max_bytes=10)


async def test_server_that_never_answers_times_out(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        await peer.release.wait()
        return web.Response()

    peer.routes["/slow"] = handler
    with pytest.raises(FetchError) as raised:
        await fetch.request(sessions(total_timeout=0.3), "GET", peer.url("/slow"))
    assert raised.value.status is None


async def test_server_that_stalls_mid_body_times_out(peer: Peer, sessions: SessionFactory) -> None:
    async def handler(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": AP_TYPE})
        response.enable_chunked_encoding()
        await response.prepare(request)
        await response.write(b'{"id": ')
        await peer.release.wait()
        return response

    peer.routes["/stall"] = handler
    with pytest.raises(FetchError):
        await fetch_ap_object(sessions(total_timeout=0.3), peer.url("/stall"))


async def test_timeout_covers_the_whole_redirect_chain(peer: Peer, sessions: SessionFactory) -> None:
    async def slow_redirect(request: web.Request) -> web.StreamResponse:
        await asyncio.sleep(0.15)
        return web.Response(status=302, headers={"Location": "/r"})

    peer.routes["/r"] = slow_redirect
    # each hop stays under the per-request limit; three of them do not
    with pytest.raises(FetchError, match="timed out"):
        await fetch.request(sessions(total_timeout=0.4), "GET", peer.url("/r"))


async def test_fetch_json_accepts_webfinger_and_nodeinfo_types(peer: Peer, sessions: SessionFactory) -> None:
    jrd = {"subject": "acct:acme@peer.example", "links": []}
    peer.serve_json("/.well-known/webfinger", jrd, content_type="application/jrd+json")
    peer.serve_json("/nodeinfo", {"version": "2.1"}, content_type="application/json")
    peer.serve_json("/html", {"a": 1}, content_type="text/html")
    session = sessions()
    assert await fetch_json(session, peer.url("/.well-known/webfinger")) == jrd
    assert await fetch_json(session, peer.url("/nodeinfo")) == {"version": "2.1"}
    with pytest.raises(ContentTypeError):
        await fetch_json(session, peer.url("/html"))
    assert await fetch_json(session, peer.url("/html"), content_types=None) == {"a": 1}
    assert peer.headers["/nodeinfo"]["Accept"] == "application/json"
