"""Rate limits: pure ASGI middleware counting requests per token, per IP and per remote domain.

Rules (Mastodon's config/initializers/rack_attack.rb, counts from Settings, windows fixed):

- `/api/`: per token (the bearer token or `access_token`, hashed), or per IP for requests without one:
  `rate_limit_api` per 5 min. A request whose token turns out invalid (401) is charged to its IP too,
  (a bucket of its own), so made-up tokens cannot buy fresh budgets.
- `POST /api/v1/accounts` and the sign-up page (`POST /sign-up`): `rate_limit_sign_ups` per IP per 30 min.
- `POST /oauth/token` and the login forms (`POST /oauth/authorize`, `POST /session/login`): `rate_limit_logins`
  per IP per 5 min.
- `POST /@{username}/subscribe` (e-mail updates, docs/mail.md): `rate_limit_subscriptions` per IP per 30 min.
- `POST /api/v{1,2}/media`: `rate_limit_media` per token per 30 min.
- Inboxes: `rate_limit_inbox` accepted deliveries per remote domain per 5 min, the domain being the host
  of the Signature's keyId (draft-cavage `Signature`, RFC 9421 `Signature-Input`) — read from a header,
  before the body or any key. A forged keyId must not spend another domain's budget, so the domain is
  charged only for deliveries answered 2xx (the signature verified with that key), while refused ones
  (4xx, unsigned included) are charged to the client IP under the same count.

Every response of a limited endpoint carries Mastodon's `X-RateLimit-Limit`, `-Remaining` and `-Reset`
(ISO 8601) for its tightest rule; over a limit the answer is 429 `{"error": "Too many requests"}` with
`Retry-After` too. Windows are fixed and aligned to the epoch, as rack-attack's are, so `Reset` is the
same instant for every client of a rule.

Storage is memory, per process, a bounded LRU (MAX_KEYS counters): a multi-process install gets a limit
per process, and a flood of distinct keys evicts the oldest counters. Both are acceptable for v1 —
the limits are about abuse, not billing — and PostgreSQL would cost a write per request.
IPv6 clients are counted per /64, as Mastodon does: one host commonly holds a whole /64.
The client address is the one uvicorn gives (its --proxy-headers / forwarded-allow-ips handle proxies).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import math
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fediverse_biz.config import Settings
from fediverse_biz.jobs.hosts import host_of

__all__ = ["MAX_KEYS", "Counters", "RateLimit", "Rule"]

MAX_KEYS: Final = 20_000  # ~6 MB of counters at most
FIVE_MINUTES: Final = 300
THIRTY_MINUTES: Final = 1800
TOO_MANY: Final = json.dumps({"error": "Too many requests"}).encode()
# The pages' sign-in form checks the same passwords, so it shares the logins' budget.
LOGIN_PATHS: Final = frozenset({"/oauth/token", "/oauth/authorize", "/oauth/authorize/", "/session/login"})
SIGN_UP_PAGE: Final = "/sign-up"  # the page's sign-up shares the API's budget
MEDIA_PATHS: Final = frozenset({"/api/v1/media", "/api/v2/media"})
# A booth's e-mail subscription form: each request may send a mail, so few per IP (the per-address limit
# is business/mail_subscriptions.py's).
_SUBSCRIBE_RE = re.compile(r"/@[^/]+/subscribe")
_KEY_ID_RE = re.compile(r'keyid\s*=\s*"([^"]*)"', re.IGNORECASE)

Clock = Callable[[], float]
ChargeWhen = Callable[[int], bool]  # given the response status: does this request count?


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    limit: int
    period: int  # seconds


@dataclass(frozen=True, slots=True)
class _Check:
    rule: Rule
    key: str
    charge_when: ChargeWhen | None  # None: charged when admitted


def _successful(status: int) -> bool:
    return 200 <= status < 300


def _refused(status: int) -> bool:
    return not 200 <= status < 300


def _unauthorized(status: int) -> bool:
    return status == 401


class Counters:
    """Fixed-window counters keyed by (rule, key), least recently used evicted past `max_keys`."""

    def __init__(self, max_keys: int = MAX_KEYS) -> None:
        self.max_keys = max_keys
        self._windows: OrderedDict[str, tuple[int, int]] = OrderedDict()  # key -> (window index, count)

    def count(self, key: str, period: int, now: float) -> int:
        window = int(now // period)
        stored = self._windows.get(key)
        return stored[1] if stored is not None and stored[0] == window else 0

    def charge(self, key: str, period: int, now: float) -> int:
        window = int(now // period)
        stored = self._windows.get(key)
        count = (stored[1] if stored is not None and stored[0] == window else 0) + 1
        self._windows[key] = (window, count)
        self._windows.move_to_end(key)
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        return count

    def __len__(self) -> int:
        return len(self._windows)


def client_ip(scope: Scope) -> str:
    """The client address as uvicorn reports it; IPv6 masked to its /64."""
    client = scope.get("client")
    if not client:
        return "unknown"
    host = str(client[0])
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return host


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return str(value.decode("latin-1"))
    return None


def bearer_token(scope: Scope) -> str | None:
    """The token as api/auth.py finds it (Authorization: Bearer, then ?access_token=), never verified here."""
    scheme, _, value = (_header(scope, b"authorization") or "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    query: bytes = scope.get("query_string", b"")
    if b"access_token" in query:
        for name, token in parse_qsl(query.decode("latin-1")):
            if name == "access_token" and token:
                return token
    return None


def signer_domain(scope: Scope) -> str | None:
    """The host[:port] of the keyId a delivery claims to be signed with, unverified; None if unsigned."""
    for name in (b"signature", b"signature-input"):
        value = _header(scope, name)
        match = _KEY_ID_RE.search(value) if value else None
        if match:
            host = host_of(match.group(1)) if match.group(1).startswith(("http://", "https://")) else ""
            return host or None
    return None


def _is_inbox(path: str) -> bool:
    return path in ("/inbox", "/actor/inbox") or (path.startswith(("/users/", "/c/")) and path.endswith("/inbox"))


def _token_key(token: str) -> str:
    return hashlib.blake2b(token.encode(), digest_size=16).hexdigest()  # no secrets kept in memory


def _iso(epoch: float) -> str:
    moment = datetime.fromtimestamp(epoch, UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


class RateLimit:
    def __init__(self, app: ASGIApp, settings: Settings, *, clock: Clock = time.time, max_keys: int = MAX_KEYS) -> None:
        self.app = app
        self.enabled = settings.rate_limits
        self.clock = clock
        self.counters = Counters(max_keys)
        self.api = Rule("api", settings.rate_limit_api, FIVE_MINUTES)
        self.sign_ups = Rule("sign_ups", settings.rate_limit_sign_ups, THIRTY_MINUTES)
        self.logins = Rule("logins", settings.rate_limit_logins, FIVE_MINUTES)
        self.media = Rule("media", settings.rate_limit_media, THIRTY_MINUTES)
        self.inbox = Rule("inbox", settings.rate_limit_inbox, FIVE_MINUTES)
        self.subscriptions = Rule("subscriptions", settings.rate_limit_subscriptions, THIRTY_MINUTES)

    def checks(self, scope: Scope) -> list[_Check]:
        """The rules this request falls under, most specific first (it names the headers on a tie)."""
        path, method = scope["path"], scope["method"]
        ip = client_ip(scope)
        found: list[_Check] = []
        if path.startswith("/api/"):
            token = bearer_token(scope)
            token_key = _token_key(token) if token is not None else None
            if method == "POST" and path == "/api/v1/accounts":
                found.append(_Check(self.sign_ups, f"sign_ups:{ip}", None))
            if method == "POST" and path in MEDIA_PATHS:
                found.append(_Check(self.media, f"media:{token_key or ip}", None))
            if token_key is not None:
                found.append(_Check(self.api, f"api:token:{token_key}", None))
                # a separate bucket: an office's anonymous readers must not lock out its members
                found.append(_Check(self.api, f"api:bad_token:{ip}", _unauthorized))
            else:
                found.append(_Check(self.api, f"api:ip:{ip}", None))
        elif method == "POST" and path == SIGN_UP_PAGE:
            found.append(_Check(self.sign_ups, f"sign_ups:{ip}", None))
        elif method == "POST" and _SUBSCRIBE_RE.fullmatch(path):
            found.append(_Check(self.subscriptions, f"subscriptions:{ip}", None))
        elif method == "POST" and path in LOGIN_PATHS:
            found.append(_Check(self.logins, f"logins:{ip}", None))
        elif method == "POST" and _is_inbox(path):
            domain = signer_domain(scope)
            if domain is not None:
                found.append(_Check(self.inbox, f"inbox:domain:{domain}", _successful))
            found.append(_Check(self.inbox, f"inbox:ip:{ip}", _refused))
        return found

    def _state(self, check: _Check, now: float) -> tuple[int, float]:
        """(remaining, reset epoch) of one check's counter."""
        period = check.rule.period
        used = self.counters.count(check.key, period, now)
        return max(check.rule.limit - used, 0), (now // period + 1) * period

    def _headers(self, checks: list[_Check], now: float) -> list[tuple[bytes, bytes]]:
        states = [(self._state(c, now), c) for c in checks]
        (remaining, reset), check = min(states, key=lambda item: item[0][0])
        return [
            (b"x-ratelimit-limit", str(check.rule.limit).encode()),
            (b"x-ratelimit-remaining", str(remaining).encode()),
            (b"x-ratelimit-reset", _iso(reset).encode()),
        ]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.enabled:
            await self.app(scope, receive, send)
            return
        checks = self.checks(scope)
        if not checks:
            await self.app(scope, receive, send)
            return
        now = self.clock()
        exhausted = [c for c in checks if self._state(c, now)[0] <= 0]
        if exhausted:
            await self._too_many(exhausted, now, send)
            return
        for check in checks:
            if check.charge_when is None:
                self.counters.charge(check.key, check.rule.period, now)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                status = int(message["status"])
                at = self.clock()
                for check in checks:
                    if check.charge_when is not None and check.charge_when(status):
                        self.counters.charge(check.key, check.rule.period, at)
                message = {**message, "headers": [*message.get("headers", []), *self._headers(checks, at)]}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    async def _too_many(self, exhausted: list[_Check], now: float, send: Send) -> None:
        # The longest wait is the one that matters: every exhausted rule must have reset.
        check = max(exhausted, key=lambda c: self._state(c, now)[1])
        reset = self._state(check, now)[1]
        await send(
            {
                "type": "http.response.start",
                "status": 429,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(TOO_MANY)).encode()),
                    (b"retry-after", str(max(math.ceil(reset - now), 1)).encode()),
                    (b"x-ratelimit-limit", str(check.rule.limit).encode()),
                    (b"x-ratelimit-remaining", b"0"),
                    (b"x-ratelimit-reset", _iso(reset).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": TOO_MANY})
