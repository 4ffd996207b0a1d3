"""The SSRF-safe client following redirects: re-checked every hop, capped, signed per hop."""

from __future__ import annotations

import pytest

from fediverse_biz.net import fetch
from fediverse_biz.net.fetch import AP_ACCEPT, BlockedAddress, FetchError, IdMismatch, fetch_ap_object
from tests.support.fetch_peer import FakeDNS, Peer, SessionFactory


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
