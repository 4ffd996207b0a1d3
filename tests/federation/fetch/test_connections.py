"""The SSRF-safe client connecting: forbidden addresses, names and URL forms never reach a socket."""

from __future__ import annotations

import json
import socket

import aiohttp
import pytest

from fediverse_biz.net import fetch
from fediverse_biz.net.fetch import BlockedAddress, FetchError, fetch_ap_object
from tests.support.fetch_peer import FakeDNS, Peer, SessionFactory


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
