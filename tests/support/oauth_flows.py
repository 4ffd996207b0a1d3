"""Driving the OAuth endpoints in-process as a browser and a client app do (tests/api/test_oauth_*.py):
register an app, fill in the authorize form, trade codes for tokens, try a token.
"""

from __future__ import annotations

from typing import Any

import httpx

from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.mastodon_client import OOB, code_from, parse_page

CALLBACK = "com.example.app://oauth/callback"


async def register(
    client: httpx.AsyncClient, scopes: str = "read write follow push", redirect_uris: str = f"{OOB}\n{CALLBACK}"
) -> dict[str, Any]:
    response = await client.post(
        "/api/v1/apps", data={"client_name": "Test App", "scopes": scopes, "redirect_uris": redirect_uris}
    )
    assert response.status_code == 200, response.text
    return dict(response.json())


async def alice(db: Database, urls: LocalUrls) -> accounts.NewUser:
    return await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)


def query(app: dict[str, Any], **overrides: str) -> dict[str, str]:
    base = {"client_id": app["client_id"], "redirect_uri": OOB, "response_type": "code", "scope": "read write"}
    return {**base, **overrides}


async def login_form(client: httpx.AsyncClient, params: dict[str, str]) -> dict[str, str]:
    page = await client.get("/oauth/authorize", params=params)
    assert page.status_code == 200, page.text
    return parse_page(page.text).forms[0].hidden()


async def submit(
    client: httpx.AsyncClient, params: dict[str, str], login: str = "alice", password: str = PASSWORD, **extra: str
) -> httpx.Response:
    hidden = await login_form(client, params)
    return await client.post("/oauth/authorize", data={**hidden, "login": login, "password": password, **extra})


async def get_code(client: httpx.AsyncClient, app: dict[str, Any], **overrides: str) -> str:
    return code_from(await submit(client, query(app, **overrides)))


async def token_request(client: httpx.AsyncClient, app: dict[str, Any], **form: str) -> httpx.Response:
    return await client.post(
        "/oauth/token", data={"client_id": app["client_id"], "client_secret": app["client_secret"], **form}
    )


async def exchange(client: httpx.AsyncClient, app: dict[str, Any], code: str, **form: str) -> httpx.Response:
    fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": OOB, **form}
    return await token_request(client, app, **fields)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def token_works(client: httpx.AsyncClient, token: str) -> bool:
    response = await client.get("/api/v1/apps/verify_credentials", headers=bearer(token))
    assert response.status_code in (200, 401)
    return response.status_code == 200
