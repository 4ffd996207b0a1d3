"""Rate limits (fediverse_biz/ratelimit.py): per token, per IP, per remote domain; 429 with Mastodon's headers.

The app under test is the real one with its own limiter switched off, wrapped in a RateLimit whose
limits are small and whose clock the test holds, so a window can pass without waiting for it.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import datetime

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.app import create_app
from fediverse_biz.config import ConfigError, Settings, load_settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.ratelimit import Counters, RateLimit, client_ip, signer_domain
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support import factories
from tests.support.accounts import api_headers
from tests.support.peers import FakePeer, deliver

LIMITS = {
    "rate_limit_api": 3,
    "rate_limit_sign_ups": 2,
    "rate_limit_logins": 2,
    "rate_limit_media": 2,
    "rate_limit_inbox": 2,
}
START = 1_700_000_130.0  # 30 s into a 5-minute window, 930 s into a 30-minute one


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock(START)


@pytest.fixture
async def limited(settings: Settings, db: Database, clock: Clock) -> AsyncIterator[RateLimit]:
    """The real app (its own limiter off) behind a RateLimit with small limits and a held clock."""
    inner = create_app(replace(settings, rate_limits=False), db)
    async with inner.router.lifespan_context(inner):
        yield RateLimit(inner, replace(settings, **LIMITS), clock=clock)  # type: ignore[arg-type]


ClientFactory = Callable[..., Awaitable[httpx.AsyncClient]]


@pytest.fixture
async def client_from(limited: RateLimit, settings: Settings) -> AsyncIterator[ClientFactory]:
    """A client of the limited app coming from a given IP address."""
    opened: list[httpx.AsyncClient] = []

    async def make(ip: str = "192.0.2.1") -> httpx.AsyncClient:
        transport = httpx.ASGITransport(app=limited, client=(ip, 40000))
        c = httpx.AsyncClient(transport=transport, base_url=settings.base_url)
        opened.append(c)
        return c

    yield make
    for c in opened:
        await c.aclose()


def inner_app(limited: RateLimit) -> Starlette:
    app = limited.app
    assert isinstance(app, Starlette)
    return app


async def token_headers(limited: RateLimit, urls: LocalUrls, username: str) -> dict[str, str]:
    pool = services(inner_app(limited)).pool
    user = await accounts.create_user(pool, urls, username, f"{username}@example.com", factories.PASSWORD)
    return await api_headers(pool, user)


def assert_limited(response: httpx.Response, limit: int, clock: Clock, period: int = 300) -> None:
    assert response.status_code == 429
    assert response.json() == {"error": "Too many requests"}
    reset = math.floor(clock.now / period + 1) * period
    assert response.headers["Retry-After"] == str(math.ceil(reset - clock.now))
    assert response.headers["X-RateLimit-Limit"] == str(limit)
    assert response.headers["X-RateLimit-Remaining"] == "0"
    assert datetime.fromisoformat(response.headers["X-RateLimit-Reset"]).timestamp() == reset


# ---- headers on every response of a limited endpoint -------------------------------------------------
async def test_normal_responses_carry_the_rate_limit_headers(client: httpx.AsyncClient) -> None:
    # given the app as configured by default (limits on, Mastodon's numbers)
    # when a client calls the API, anonymously and with a bad token, and the token endpoint
    first = await client.get("/api/v1/instance")
    second = await client.get("/api/v1/instance")
    unauthorized = await client.get("/api/v1/timelines/home", headers={"Authorization": "Bearer nope"})
    login = await client.post("/oauth/token", data={"grant_type": "password"})
    # then each answer says the limit, what is left, and when the window ends (ISO 8601, UTC)
    assert first.status_code == 200 and unauthorized.status_code == 401 and login.status_code in (400, 401)
    assert (first.headers["X-RateLimit-Limit"], first.headers["X-RateLimit-Remaining"]) == ("300", "299")
    assert second.headers["X-RateLimit-Remaining"] == "298"
    reset = datetime.fromisoformat(first.headers["X-RateLimit-Reset"])
    assert reset.utcoffset() is not None and reset.utcoffset().total_seconds() == 0  # type: ignore[union-attr]
    assert first.headers["X-RateLimit-Reset"].endswith("Z")
    assert unauthorized.headers["X-RateLimit-Remaining"] == "299"  # the token's own bucket
    assert login.headers["X-RateLimit-Limit"] == "25"
    # and endpoints that are not limited carry none
    assert "X-RateLimit-Limit" not in (await client.get("/healthz")).headers


async def test_disabled_limits_add_nothing(settings: Settings, db: Database) -> None:
    app = create_app(replace(settings, rate_limits=False, rate_limit_api=1), db)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as c:
            responses = [await c.get("/api/v1/instance") for _ in range(3)]
    assert [r.status_code for r in responses] == [200, 200, 200]
    assert "X-RateLimit-Limit" not in responses[-1].headers


# ---- the API: per token, per IP ----------------------------------------------------------------------
async def test_a_token_over_its_limit_gets_429_and_other_tokens_do_not(
    limited: RateLimit, client_from: ClientFactory, urls: LocalUrls, clock: Clock
) -> None:
    client = await client_from()
    alice, bob = await token_headers(limited, urls, "alice"), await token_headers(limited, urls, "bob")
    # given alice used her 3 requests
    answers = [await client.get("/api/v1/timelines/home", headers=alice) for _ in range(3)]
    assert [r.status_code for r in answers] == [200, 200, 200]
    assert [r.headers["X-RateLimit-Remaining"] for r in answers] == ["2", "1", "0"]
    # when she asks again, she is told to wait until the window ends
    assert_limited(await client.get("/api/v1/timelines/home", headers=alice), 3, clock)
    # while bob, from the same address, and an anonymous reader are not limited
    assert (await client.get("/api/v1/timelines/home", headers=bob)).status_code == 200
    assert (await client.get("/api/v1/instance")).status_code == 200
    # and the token in the query string is the same token
    token = alice["Authorization"].removeprefix("Bearer ")
    assert (await client.get(f"/api/v1/timelines/home?access_token={token}")).status_code == 429


async def test_anonymous_requests_are_limited_per_ip(client_from: ClientFactory, clock: Clock) -> None:
    one, other = await client_from("192.0.2.1"), await client_from("192.0.2.2")
    assert [(await one.get("/api/v1/instance")).status_code for _ in range(3)] == [200, 200, 200]
    assert_limited(await one.get("/api/v1/timelines/public"), 3, clock)
    assert (await other.get("/api/v1/instance")).status_code == 200


async def test_made_up_tokens_are_charged_to_the_ip(client_from: ClientFactory, clock: Clock) -> None:
    client = await client_from()
    # given three requests, each with a different invalid token
    for n in range(3):
        response = await client.get("/api/v1/timelines/home", headers={"Authorization": f"Bearer guess{n}"})
        assert response.status_code == 401
    # then a fourth fresh token does not buy a fresh budget
    assert_limited(await client.get("/api/v1/timelines/home", headers={"Authorization": "Bearer guess9"}), 3, clock)
    # but anonymous reading from that address is a separate bucket
    assert (await client.get("/api/v1/instance")).status_code == 200


async def test_ipv6_clients_are_counted_per_64() -> None:
    scope = {"client": ("2001:db8:1:2:aaaa::1", 1)}
    assert client_ip(scope) == client_ip({"client": ("2001:db8:1:2:bbbb::9", 1)}) == "2001:db8:1:2::/64"
    assert client_ip({"client": ("2001:db8:1:3::1", 1)}) != client_ip(scope)
    assert client_ip({"client": ("198.51.100.7", 1)}) == "198.51.100.7"
    assert client_ip({"client": None}) == "unknown"


# ---- stricter limits: sign-ups, logins, media --------------------------------------------------------
async def test_sign_ups_are_limited_per_ip(client_from: ClientFactory, clock: Clock) -> None:
    client, other = await client_from("192.0.2.1"), await client_from("192.0.2.2")
    for _ in range(2):
        assert (await client.post("/api/v1/accounts", data={"username": "x"})).status_code == 401  # no app token
    assert_limited(await client.post("/api/v1/accounts", data={"username": "x"}), 2, clock, period=1800)
    assert (await other.post("/api/v1/accounts", data={"username": "x"})).status_code == 401


async def test_login_attempts_are_limited_per_ip(client_from: ClientFactory, clock: Clock) -> None:
    client, other = await client_from("192.0.2.1"), await client_from("192.0.2.2")
    form = {"grant_type": "password", "client_id": "x", "client_secret": "y", "username": "a", "password": "b"}
    for _ in range(2):
        assert (await client.post("/oauth/token", data=form)).status_code in (400, 401)
    assert_limited(await client.post("/oauth/token", data=form), 2, clock)
    assert_limited(await client.post("/oauth/authorize", data={"login": "a", "password": "b"}), 2, clock)
    assert (await other.post("/oauth/token", data=form)).status_code in (400, 401)


async def test_media_uploads_are_limited_per_token(
    limited: RateLimit, client_from: ClientFactory, urls: LocalUrls, clock: Clock
) -> None:
    client = await client_from()
    alice, bob = await token_headers(limited, urls, "alice"), await token_headers(limited, urls, "bob")
    for _ in range(2):
        assert (await client.post("/api/v2/media", headers=alice)).status_code == 422  # no file: still an upload
    response = await client.post("/api/v1/media", headers=alice)
    assert_limited(response, 2, clock, period=1800)
    assert (await client.post("/api/v2/media", headers=bob)).status_code == 422


# ---- the window ----------------------------------------------------------------------------------------
async def test_the_window_resets(client_from: ClientFactory, clock: Clock) -> None:
    client = await client_from()
    for _ in range(3):
        await client.get("/api/v1/instance")
    limited = await client.get("/api/v1/instance")
    assert_limited(limited, 3, clock)
    # when the clock reaches the announced reset, the budget is whole again
    clock.now = datetime.fromisoformat(limited.headers["X-RateLimit-Reset"]).timestamp()
    fresh = await client.get("/api/v1/instance")
    assert fresh.status_code == 200 and fresh.headers["X-RateLimit-Remaining"] == "2"


def test_counters_forget_the_least_recently_used_key_first() -> None:
    counters = Counters(max_keys=2)
    counters.charge("a", 300, START)
    counters.charge("b", 300, START)
    counters.charge("a", 300, START)
    counters.charge("c", 300, START)  # evicts b, the least recently used
    assert len(counters) == 2
    assert (counters.count("a", 300, START), counters.count("b", 300, START), counters.count("c", 300, START)) == (
        2,
        0,
        1,
    )
    assert counters.count("a", 300, START + 300) == 0  # next window


# ---- the inbox: per remote domain --------------------------------------------------------------------
@pytest.fixture
async def peers() -> AsyncIterator[tuple[FakePeer, FakePeer]]:
    one, two = await FakePeer().start(), await FakePeer().start()
    yield one, two
    await one.stop()
    await two.stop()


async def test_inbox_deliveries_are_limited_per_signing_domain(
    limited: RateLimit, client_from: ClientFactory, peers: tuple[FakePeer, FakePeer], urls: LocalUrls, clock: Clock
) -> None:
    one, two = peers
    await factories.local_actor(services(inner_app(limited)).pool, urls, "alice")
    client = await client_from()
    bob, carol = one.actor("bob"), two.actor("carol")

    def follow(peer: FakePeer, actor: object) -> dict[str, object]:
        return peer.activity("Follow", actor, f"{urls.base}/users/alice")  # type: ignore[arg-type]

    # given bob's server delivered its 2 activities of the window
    for _ in range(2):
        response = await deliver(client, follow(one, bob), bob)
        assert response.status_code == 202 and "X-RateLimit-Remaining" in response.headers
    # then the next delivery from that domain is refused with 429, to be retried after Retry-After
    assert_limited(await deliver(client, follow(one, bob), bob), 2, clock)
    # while another domain, from the same address, is still accepted
    assert (await deliver(client, follow(two, carol), carol)).status_code == 202


async def test_forged_key_ids_do_not_spend_the_victims_budget(
    limited: RateLimit, client_from: ClientFactory, peers: tuple[FakePeer, FakePeer], urls: LocalUrls, clock: Clock
) -> None:
    one, _ = peers
    await factories.local_actor(services(inner_app(limited)).pool, urls, "alice")
    bob = one.actor("bob")
    attacker, peer = await client_from("203.0.113.9"), await client_from("192.0.2.1")
    forged = {"Signature": f'keyId="{bob.key_id}",algorithm="rsa-sha256",headers="date",signature="AAAA"'}
    # given an attacker posting garbage "signed" with bob's keyId
    for _ in range(2):
        response = await attacker.post(
            "/inbox", content=b"{}", headers={**forged, "Content-Type": "application/activity+json"}
        )
        assert response.status_code == 400
    # then the attacker's address is limited (refusals are charged to the IP) ...
    assert_limited(await attacker.post("/inbox", content=b"{}", headers=forged), 2, clock)
    # ... and bob's real server still delivers
    follow = one.activity("Follow", bob, f"{urls.base}/users/alice")
    assert (await deliver(peer, follow, bob)).status_code == 202


def test_signer_domain_reads_both_signature_schemes() -> None:
    cavage = [(b"signature", b'keyId="https://Social.Example:8443/users/a#main-key",headers="date"')]
    rfc9421 = [(b"signature-input", b'sig1=("@method");created=1;keyid="https://b.example/actor#k"')]
    assert signer_domain({"headers": cavage}) == "social.example:8443"
    assert signer_domain({"headers": rfc9421}) == "b.example"
    assert signer_domain({"headers": [(b"signature", b'keyId="acct:nobody"')]}) is None
    assert signer_domain({"headers": []}) is None


# ---- settings ------------------------------------------------------------------------------------------
def test_limits_are_settings(tmp_path: object) -> None:
    env = {
        "FEDIVERSE_BIZ_RATE_LIMITS": "false",
        "FEDIVERSE_BIZ_RATE_LIMIT_API": "1000",
        "FEDIVERSE_BIZ_RATE_LIMIT_INBOX": "50000",
    }
    settings = load_settings(env, data_dir=str(tmp_path))
    assert (settings.rate_limits, settings.rate_limit_api, settings.rate_limit_inbox) == (False, 1000, 50000)
    defaults = load_settings({}, data_dir=str(tmp_path))
    assert (defaults.rate_limits, defaults.rate_limit_api, defaults.rate_limit_logins) == (True, 300, 25)
    with pytest.raises(ConfigError, match="FEDIVERSE_BIZ_RATE_LIMIT_LOGINS"):
        load_settings({"FEDIVERSE_BIZ_RATE_LIMIT_LOGINS": "0"}, data_dir=str(tmp_path))
