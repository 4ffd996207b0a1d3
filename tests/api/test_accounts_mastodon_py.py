"""The account endpoints driven by the real Mastodon.py client against a live server.

Every response Mastodon.py receives from an account endpoint is recorded at the HTTP level and checked
against schemas/mastodon/ (Mastodon.py itself turns ids into ints and datetimes into objects, so its
return values cannot be checked against the JSON schemas).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import requests
from mastodon import Mastodon

from tests.support.accounts import PASSWORD, create_organization_sync, create_user_sync
from tests.support.images import png
from tests.support.mastodon_client import login_mastodon, register_app
from tests.support.mastodon_schemas import assert_matches
from tests.support.servers import LiveServer

# (method, path pattern, schema of the body, or of each item when the body is a list)
_ACCOUNT = r"/api/v1/accounts/\d+"
SCHEMAS: list[tuple[str, re.Pattern[str], str]] = [
    (m, re.compile(p), e)
    for m, p, e in [
        ("GET", r"/api/v1/accounts/verify_credentials", "credential_account"),
        ("PATCH", r"/api/v1/accounts/update_credentials", "credential_account"),
        ("POST", r"/api/v1/accounts", "token"),
        ("POST", r"/oauth/token", "token"),
        ("GET", r"/api/v1/accounts/relationships", "relationship"),
        ("GET", r"/api/v1/accounts/(lookup|search)", "account"),
        ("GET", _ACCOUNT, "account"),
        ("GET", _ACCOUNT + "/statuses", "status"),
        ("GET", _ACCOUNT + "/(followers|following)", "account"),
        ("POST", _ACCOUNT + "/(follow|unfollow|block|unblock|mute|unmute|remove_from_followers)", "relationship"),
        ("GET", r"/api/v1/(follow_requests|blocks|mutes)", "account"),
        ("POST", r"/api/v1/follow_requests/\d+/(authorize|reject)", "relationship"),
        ("POST", r"/api/v1/statuses", "status"),
    ]
]


class Recorder:
    """Keeps every response a Mastodon.py client receives; `check()` validates the account ones."""

    def __init__(self, api: Mastodon) -> None:
        self.responses: list[requests.Response] = []
        api.session.hooks["response"].append(self._record)

    def _record(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self.responses.append(response)

    def check(self) -> int:
        checked = 0
        for response in self.responses:
            path = urlsplit(response.url).path
            method = response.request.method or ""
            if response.status_code >= 400 and path.startswith("/api/"):
                assert_matches("error", response.json())
                checked += 1
                continue
            entity = next((e for m, p, e in SCHEMAS if m == method and p.fullmatch(path)), None)
            if entity is None:
                assert not re.match(r"/api/v1/(accounts|follow_requests|blocks|mutes)", path), f"unchecked {path}"
                continue
            body = response.json()
            for item in body if isinstance(body, list) else [body]:
                assert_matches(entity, item)
            checked += 1
        return checked


def client(live: LiveServer, username: str, **kwargs: Any) -> tuple[Mastodon, Recorder]:
    api = login_mastodon(live.base_url, username, PASSWORD, **kwargs)
    return api, Recorder(api)


def checking(*recorders: Recorder) -> Callable[[], None]:
    def check() -> None:
        assert sum(r.check() for r in recorders) > 0

    return check


def test_credentials_and_profile_edits(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    create_user_sync(live_server, "bob")
    alice, recorder = client(live_server, "alice")
    me = alice.account_verify_credentials()
    assert me.username == "alice" and me.source.note == ""
    me = alice.account_update_credentials(
        display_name="Alice at ACME",
        note="Anvils for @bob and everyone: https://acme.example",
        fields=[("Website", "https://acme.example"), ("Hall", "B3")],
        default_language="de",
        avatar=png((500, 500)),
        avatar_mime_type="image/png",
    )
    assert me.display_name == "Alice at ACME" and me.source.language == "de"
    assert [f.name for f in me.fields] == ["Website", "Hall"] and 'rel="me' in me.fields[0].value
    assert "/media/accounts/" in me.avatar and "@<span>bob</span>" in me.note
    assert alice.account_verify_credentials().source.note == "Anvils for @bob and everyone: https://acme.example"
    assert requests.get(me.avatar, timeout=10).status_code == 200
    checking(recorder)()


def test_lookup_follow_relationships_and_account_statuses_paging(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    create_user_sync(live_server, "bob")
    alice, recorder = client(live_server, "alice")
    bob, bob_recorder = client(live_server, "bob")
    posted = [bob.status_post(f"news {n}")["id"] for n in range(5)]
    found = alice.account_lookup("bob")
    assert found.acct == "bob"
    relationship = alice.account_follow(found)
    assert relationship.following is True and relationship.requested is False
    [relationship] = alice.account_relationships([found.id])
    assert relationship.following is True and relationship.followed_by is False
    assert [a.acct for a in bob.account_followers(found)] == ["alice"]
    page = alice.account_statuses(found, limit=2)
    seen = []
    while page:
        seen += [s.id for s in page]
        page = alice.fetch_next(page)
    assert seen == list(reversed(posted))
    assert alice.account_unfollow(found).following is False
    checking(recorder, bob_recorder)()


def test_locked_account_follow_requests(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    create_user_sync(live_server, "carol")
    alice, recorder = client(live_server, "alice")
    carol, carol_recorder = client(live_server, "carol")
    me = carol.account_update_credentials(locked=True)
    assert me.locked is True
    assert alice.account_follow(me.id).requested is True
    [request] = carol.follow_requests()
    assert request.acct == "alice"
    relationship = carol.follow_request_authorize(request)
    assert relationship.followed_by is True
    assert carol.follow_requests() == []
    assert alice.account_relationships(me.id)[0].following is True
    checking(recorder, carol_recorder)()


def test_block_and_mute(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    bob_id = create_user_sync(live_server, "bob")
    alice, recorder = client(live_server, "alice")
    assert alice.account_block(bob_id).blocking is True
    assert [int(a.id) for a in alice.blocks()] == [bob_id]
    assert alice.account_unblock(bob_id).blocking is False
    relationship = alice.account_mute(bob_id, notifications=False, duration=600)
    assert relationship.muting is True and relationship.muting_notifications is False
    assert [int(a.id) for a in alice.mutes()] == [bob_id]
    assert alice.account_unmute(bob_id).muting is False
    checking(recorder)()


def test_create_account_with_mastodon_py(live_server: LiveServer) -> None:
    create_user_sync(live_server, "taken")
    client_id, client_secret = register_app(live_server.base_url)
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=live_server.base_url)
    recorder = Recorder(api)
    api.create_account("newbie", PASSWORD, "newbie@example.com", agreement=True, locale="it")
    me = api.account_verify_credentials()
    assert me.username == "newbie" and me.source.language == "it"
    other = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=live_server.base_url)
    other_recorder = Recorder(other)
    token, problems = other.create_account(
        "taken", "short", "newbie@example.com", agreement=False, return_detailed_error=True
    )
    assert token is None
    assert problems.details.username[0].error == "ERR_TAKEN"
    assert problems.details.email[0].error == "ERR_TAKEN"
    assert problems.details.password[0].error == "ERR_TOO_SHORT"
    assert problems.details.agreement[0].error == "ERR_ACCEPTED"
    checking(recorder, other_recorder)()


def test_an_organization_token_through_mastodon_py(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    bob_id = create_user_sync(live_server, "bob")
    acme_id = create_organization_sync(live_server, "acme", "alice")
    acme, recorder = client(live_server, "alice", actor="acme")
    me = acme.account_verify_credentials()
    assert int(me.id) == acme_id and me.username == "acme"
    assert acme.account_update_credentials(note="Anvils since 1949").source.note == "Anvils since 1949"
    assert acme.account_follow(bob_id).following is True
    assert [a.username for a in acme.account_following(acme_id)] == ["bob"]
    checking(recorder)()


def test_search_resolves_an_account_on_another_server(live_server_factory: Callable[..., LiveServer]) -> None:
    here, there = live_server_factory(), live_server_factory()
    create_user_sync(here, "alice")
    create_user_sync(there, "remy")
    alice, recorder = client(here, "alice")
    handle = f"remy@{urlsplit(there.base_url).netloc}"
    assert alice.account_search(handle) == []  # not known yet, and no resolve
    [remy] = alice.account_search(handle, resolve=True)
    assert remy.acct == handle and remy.url == f"{there.base_url}/@remy"
    assert alice.account_lookup(handle).id == remy.id  # now known here
    relationship = alice.account_follow(remy)
    assert relationship.requested is True and relationship.following is False
    checking(recorder)()
