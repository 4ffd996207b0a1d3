"""OAuth with real clients against a live server: Mastodon.py and toot."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import asyncpg
import httpx
import pytest
from mastodon import Mastodon
from mastodon.errors import MastodonUnauthorizedError

from fediverse_biz.core.oauth import hash_secret
from tests.support.accounts import PASSWORD, create_organization_sync, create_user_sync, run_sync
from tests.support.mastodon_client import browser_authorize, code_from, login_mastodon, password_login, register_app
from tests.support.oauth_flows import CALLBACK, bearer
from tests.support.servers import LiveServer


def test_mastodon_py_authorization_code_flow(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    api = login_mastodon(live_server.base_url, "alice", PASSWORD)
    assert api.app_verify_credentials()["name"] == "fediverse_biz tests"
    # log_in already fetched both instance documents: our version parses as Mastodon 4.3, API version 2
    assert api.retrieve_mastodon_version().startswith("4.3.0")
    assert api.verify_minimum_version("4.0.0", cached=True) and api.mastodon_api_version == 2
    assert api.instance_v2()["domain"] == live_server.settings.domain


def test_mastodon_py_revoked_token_is_401(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    api = password_login(live_server.base_url, "alice", PASSWORD)
    token = api.access_token
    assert token and Mastodon(access_token=token, api_base_url=live_server.base_url).app_verify_credentials()
    api.revoke_access_token(allow_http=True)
    assert api.access_token is None
    with pytest.raises(MastodonUnauthorizedError):
        Mastodon(access_token=token, api_base_url=live_server.base_url).app_verify_credentials()
    assert httpx.get(f"{live_server.base_url}/api/v1/apps/verify_credentials", headers=bearer(token)).status_code == 401


def test_mastodon_py_pkce_login(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    api = login_mastodon(live_server.base_url, "alice", PASSWORD, pkce=True)
    assert api.app_verify_credentials()["scopes"] == ["read", "write", "follow", "push"]


def test_mastodon_py_with_a_custom_scheme_redirect(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    client_id, client_secret = register_app(live_server.base_url, ["read"], redirect_uris=[CALLBACK])
    api = Mastodon(client_id=client_id, client_secret=client_secret, api_base_url=live_server.base_url)
    url = api.auth_request_url(redirect_uris=CALLBACK, scopes=["read"], state="opaque", allow_http=True)
    with httpx.Client() as http:
        response = browser_authorize(http, url, "alice", PASSWORD)
    assert response.status_code == 302 and response.headers["location"].startswith(CALLBACK + "?")
    assert parse_qs(urlsplit(response.headers["location"]).query)["state"] == ["opaque"]
    api.log_in(code=code_from(response), redirect_uri=CALLBACK, scopes=["read"], allow_http=True)
    assert api.app_verify_credentials()["redirect_uris"] == [CALLBACK]


def test_mastodon_py_login_as_an_organization(live_server: LiveServer) -> None:
    create_user_sync(live_server, "alice")
    org_id = create_organization_sync(live_server, "acme", "alice")
    as_org = login_mastodon(live_server.base_url, "alice", PASSWORD, actor="acme")
    as_self = login_mastodon(live_server.base_url, "alice", PASSWORD)  # the chooser's default is oneself
    assert as_org.access_token and as_self.access_token
    assert _actor_of(live_server, as_org.access_token) == org_id
    assert _actor_of(live_server, as_self.access_token) != org_id


def _actor_of(server: LiveServer, token: str) -> int:
    async def lookup() -> int:
        conn = await asyncpg.connect(server.dsn)
        try:
            actor_id = await conn.fetchval(
                "SELECT actor_id FROM oauth_tokens WHERE token_hash = $1", hash_secret(token)
            )
            return int(actor_id)
        finally:
            await conn.close()

    return run_sync(lookup)


def test_toot_registers_with_json_and_logs_in_both_ways(live_server: LiveServer) -> None:
    from toot import App, api
    from toot.exceptions import ApiError as TootError

    create_user_sync(live_server, "alice")
    # toot reads `uri` first: it becomes its config key (toot/auth.py find_instance)
    instance = api.get_instance(live_server.base_url).json()
    registered = api.create_app(live_server.base_url)  # a JSON body
    app = App(instance["uri"], live_server.base_url, registered["client_id"], registered["client_secret"])
    # the browser flow: toot prints /oauth/authorize/ (trailing slash), the user pastes the code
    with httpx.Client() as http:
        code = code_from(browser_authorize(http, api.get_browser_login_url(app), "alice", PASSWORD))
    assert api.request_access_token(app, code)["scope"] == "read write follow"
    # login_cli: the password grant, with the email as toot asks for it
    assert api.login(app, "alice@example.com", PASSWORD)["token_type"] == "Bearer"
    with pytest.raises(TootError, match="Invalid username"):
        api.login(app, "alice@example.com", "wrong password")
