"""Logging the real Mastodon.py client in against a live server, with the test playing the browser.

    api = login_mastodon(live.base_url, "alice", PASSWORD)            # authorization code, OOB page
    api = login_mastodon(live.base_url, "alice", PASSWORD, pkce=True) # + PKCE S256
    api = login_mastodon(live.base_url, "alice", PASSWORD, actor="acme")  # act as an organization
    api = password_login(live.base_url, "alice", PASSWORD)            # needs enable_password_grant

Mastodon.py 2.x builds the authorize URL but cannot send PKCE parameters, so with `pkce=True` the
challenge is appended to its URL and the token exchange is done with httpx. Our OAuth URLs are
http:// on loopback, hence `allow_http=True` on every Mastodon.py OAuth call.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import parse_qs, urlencode, urljoin, urlsplit

import httpx
from mastodon import Mastodon

OOB = "urn:ietf:wg:oauth:2.0:oob"
DEFAULT_SCOPES = ("read", "write", "follow", "push")  # Mastodon.py's defaults


@dataclass
class HtmlForm:
    action: str
    method: str
    inputs: list[tuple[str, str, str]] = field(default_factory=list)  # (type, name, value)
    selects: dict[str, list[tuple[str, bool]]] = field(default_factory=dict)  # name -> [(value, selected)]

    def hidden(self) -> dict[str, str]:
        return {name: value for kind, name, value in self.inputs if kind == "hidden"}


class _PageParser(HTMLParser):
    """Forms, their fields, and the text of #authorization-code: all a test needs from our pages."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[HtmlForm] = []
        self.code_parts: list[str] = []
        self._select: str | None = None
        self._option: tuple[str, bool] | None = None
        self._in_code = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if self._in_code:
            self._in_code += 1
        if a.get("id") == "authorization-code":
            self._in_code = 1
        if tag == "form":
            self.forms.append(HtmlForm(a.get("action", ""), a.get("method", "get").lower()))
        elif tag == "input" and self.forms and a.get("name"):
            self.forms[-1].inputs.append((a.get("type", "text"), a["name"], a.get("value", "")))
        elif tag == "select" and self.forms and a.get("name"):
            self._select = a["name"]
            self.forms[-1].selects[self._select] = []
        elif tag == "option" and self._select is not None:
            self.forms[-1].selects[self._select].append((a.get("value", ""), "selected" in a))

    def handle_endtag(self, tag: str) -> None:
        if self._in_code:
            self._in_code -= 1
        if tag == "select":
            self._select = None

    def handle_data(self, data: str) -> None:
        if self._in_code:
            self.code_parts.append(data)


def parse_page(html: str) -> _PageParser:
    parser = _PageParser()
    parser.feed(html)
    parser.close()
    return parser


def browser_authorize(
    http: httpx.Client, authorize_url: str, login: str, password: str, *, actor: str | None = None
) -> httpx.Response:
    """GET the consent page, sign in and approve, pick the identity if asked; the last response
    (a 302 to the redirect URI, or the page showing the out-of-band code)."""
    page = http.get(authorize_url)
    assert page.status_code == 200, f"authorize page: {page.status_code} {page.text[:500]}"
    form = parse_page(page.text).forms[0]
    data = {**form.hidden(), "login": login, "password": password, "approve": "1"}
    if actor is not None:
        data["actor"] = actor
    response = http.post(urljoin(str(page.url), form.action), data=data)
    forms = parse_page(response.text).forms if response.status_code == 200 else []
    if forms and "actor" in forms[0].selects:  # a member of organizations chooses who the app acts as
        options = forms[0].selects["actor"]
        chosen = actor or next(value for value, selected in options if selected)
        data = {**forms[0].hidden(), "actor": chosen, "approve": "1"}
        response = http.post(urljoin(str(response.url), forms[0].action), data=data)
    return response


def code_from(response: httpx.Response) -> str:
    """The authorization code from a redirect's query or from the OOB page."""
    if response.status_code in (302, 303):
        query = parse_qs(urlsplit(response.headers["location"]).query)
        assert "code" in query, f"no code in redirect: {response.headers['location']}"
        return query["code"][0]
    code = "".join(parse_page(response.text).code_parts).strip()
    assert response.status_code == 200 and code, f"no code: {response.status_code} {response.text[:500]}"
    return code


def pkce_pair() -> tuple[str, str]:
    """(code_verifier, S256 code_challenge) as RFC 7636 §4.1-4.2 define them."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def register_app(
    base_url: str, scopes: Sequence[str] = DEFAULT_SCOPES, redirect_uris: str | list[str] = OOB
) -> tuple[str, str]:
    client_id, client_secret = Mastodon.create_app(
        "fediverse_biz tests", scopes=list(scopes), redirect_uris=redirect_uris, api_base_url=base_url
    )
    return client_id, client_secret


def login_mastodon(
    base_url: str,
    username: str,
    password: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    *,
    pkce: bool = False,
    actor: str | None = None,
) -> Mastodon:
    """A Mastodon.py client logged in through the authorization-code flow (OOB redirect URI)."""
    client_id, client_secret = register_app(base_url, scopes)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base_url)
    url = api.auth_request_url(scopes=list(scopes), allow_http=True)
    verifier = None
    if pkce:
        verifier, challenge = pkce_pair()
        url += "&" + urlencode({"code_challenge": challenge, "code_challenge_method": "S256"})
    with httpx.Client() as http:
        code = code_from(browser_authorize(http, url, username, password, actor=actor))
        if verifier is None:
            api.log_in(code=code, scopes=list(scopes), allow_http=True)
            return api
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB, "code_verifier": verifier}
        response = http.post(f"{base_url}/oauth/token", data=form, auth=(client_id, client_secret))
    assert response.status_code == 200, response.text
    api.access_token = response.json()["access_token"]
    return api


def password_login(
    base_url: str,
    username: str,
    password: str,
    scopes: Sequence[str] = DEFAULT_SCOPES,
    *,
    actor: str | None = None,
) -> Mastodon:
    """A Mastodon.py client logged in with the password grant (the server needs enable_password_grant)."""
    client_id, client_secret = register_app(base_url, scopes)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=base_url)
    if actor is None:
        api.log_in(username, password, scopes=list(scopes), allow_http=True)
        return api
    # Mastodon.py cannot send our `actor` field, so this one request is made directly.
    form = {
        "grant_type": "password",
        "username": username,
        "password": password,
        "scope": " ".join(scopes),
        "actor": actor,
        "client_id": client_id,
        "client_secret": client_secret,
    }
    response = httpx.post(f"{base_url}/oauth/token", data=form)
    assert response.status_code == 200, response.text
    api.access_token = response.json()["access_token"]
    return api
