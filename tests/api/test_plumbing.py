"""The client API's plumbing: parameters in every encoding, pagination, errors, bearer auth, static files."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import httpx
import pytest
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fediverse_biz.api.auth import Viewer, has_scope, optional, require
from fediverse_biz.api.errors import ApiError, exception_handlers
from fediverse_biz.api.pagination import keyset, link_header, newest_first, page_params, paginated
from fediverse_biz.api.params import read_params
from fediverse_biz.app import build_services, http_error
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD, api_headers


# ---- a tiny app exposing the helpers, with the real pool and settings ----------------------------
async def echo_params(request: Request) -> Response:
    async with await read_params(request) as params:
        upload = params.file("file")
        return JSONResponse(
            {
                "status": params.get("status"),
                "media_ids": params.get_list("media_ids"),
                "id": params.get_list("id"),
                "fields": params.get_dict_list("fields_attributes"),
                "sensitive": params.get_bool("sensitive", False),
                "limit": params.get_int("limit", 20, 1, 40),
                "file": (upload.filename, (await upload.read()).decode()) if upload else None,
            }
        )


async def needs(request: Request) -> Response:
    scope = request.query_params.get("scope") or None
    viewer = await require(request, scope, user=request.query_params.get("user") != "0")
    return JSONResponse({"actor_id": viewer.actor_id, "scopes": sorted(viewer.scopes)})


async def maybe(request: Request) -> Response:
    viewer = await optional(request, "read:statuses")
    return JSONResponse({"anonymous": viewer is None})


async def page(request: Request) -> Response:
    window = page_params(request)
    ids = [int(i) for i in request.query_params.getlist("ids")]
    return paginated(request, [{"id": str(i)} for i in ids], ids, window)


@pytest.fixture
async def tiny(db: Database, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    app = Starlette(
        routes=[
            Route("/api/echo", echo_params, methods=["GET", "POST"]),
            Route("/api/needs", needs),
            Route("/api/maybe", maybe),
            Route("/api/page", page),
        ],
        exception_handlers={HTTPException: http_error, **exception_handlers},
    )
    async with aiohttp.ClientSession() as http:
        app.state.services = build_services(settings, db, http)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url) as client:
            yield client


# ---- parameters ---------------------------------------------------------------------------------
async def test_rails_style_form_arrays_and_mastodon_py_booleans(tiny: httpx.AsyncClient) -> None:
    # given the body Mastodon.py sends for status_post with media
    body = "status=hi&sensitive=1&media_ids%5B%5D=5&media_ids%5B%5D=6&id=1&id=2&unknown=x"
    response = await tiny.post("/api/echo", content=body, headers={"Content-Type": "application/x-www-form-urlencoded"})
    data = response.json()
    assert data["status"] == "hi" and data["sensitive"] is True
    assert data["media_ids"] == ["5", "6"]
    assert data["id"] == ["1", "2"]  # a plain key repeated is a list too


async def test_indexed_form_arrays_and_fields_attributes(tiny: httpx.AsyncClient) -> None:
    form = {
        "media_ids[1]": "b",
        "media_ids[0]": "a",
        "fields_attributes[0][name]": "Web",
        "fields_attributes[0][value]": "https://example.com",
        "fields_attributes[1][name]": "Phone",
        "fields_attributes[1][value]": "123",
    }
    data = (await tiny.post("/api/echo", data=form)).json()
    assert data["media_ids"] == ["a", "b"]
    assert data["fields"] == [{"name": "Web", "value": "https://example.com"}, {"name": "Phone", "value": "123"}]


@pytest.mark.parametrize(
    "fields",
    [
        [{"name": "Web", "value": "x"}],
        {"0": {"name": "Web", "value": "x"}},
    ],
)
async def test_json_bodies_with_arrays_and_field_hashes(tiny: httpx.AsyncClient, fields: Any) -> None:
    # given toot's JSON shape, numbers and booleans as JSON types
    body = {"status": "hi", "media_ids": [7, "8"], "sensitive": False, "limit": 5, "fields_attributes": fields}
    data = (await tiny.post("/api/echo", json=body)).json()
    assert data["media_ids"] == ["7", "8"]
    assert data["sensitive"] is False and data["limit"] == 5
    assert data["fields"] == [{"name": "Web", "value": "x"}]


async def test_query_is_merged_and_the_body_wins(tiny: httpx.AsyncClient) -> None:
    response = await tiny.post("/api/echo?status=query&limit=3&id[]=9", json={"status": "body"})
    data = response.json()
    assert data["status"] == "body" and data["limit"] == 3 and data["id"] == ["9"]


async def test_empty_post_without_content_type(tiny: httpx.AsyncClient) -> None:
    data = (await tiny.post("/api/echo")).json()
    assert data == {
        "status": None, "media_ids": [], "id": [], "fields": [], "sensitive": False, "limit": 20, "file": None,
    }  # fmt: skip


async def test_multipart_keeps_the_uploaded_file(tiny: httpx.AsyncClient) -> None:
    response = await tiny.post(
        "/api/echo", data={"status": "with file"}, files={"file": ("note.txt", b"hello", "text/plain")}
    )
    assert response.json()["file"] == ["note.txt", "hello"]
    assert response.json()["status"] == "with file"


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b"{not json", "application/json", 400),
        (b"[1, 2]", "application/json", 422),
        (b"sensitive=maybe", "application/x-www-form-urlencoded", 422),
        (b"limit=ten", "application/x-www-form-urlencoded", 422),
        (b"limit=41", "application/x-www-form-urlencoded", 422),
        (b"status=a%00b", "application/x-www-form-urlencoded", 422),
    ],
)
async def test_bad_input_is_a_clear_client_error(
    tiny: httpx.AsyncClient, body: bytes, content_type: str, status: int
) -> None:
    response = await tiny.post("/api/echo", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    assert isinstance(response.json()["error"], str) and response.json()["error"]


@pytest.mark.parametrize(
    ("body", "content_type", "status", "error"),
    [
        # text PostgreSQL cannot store, wherever it comes from: 422 naming the field (storable.py)
        (b'{"status": "x\\ud800"}', "application/json", 422, "status is not valid Unicode (it holds a lone surrogate)"),
        (b'{"status": "x\\u0000"}', "application/json", 422, "status contains a NUL character"),
        (b'{"fields_attributes": [{"name": "\\udfff"}]}', "application/json", 422, "fields_attributes[0][name] is"),
        (b'{"source": {"note\\u0000": "x"}}', "application/json", 422, "a field name in source contains a NUL"),
        (b"status=x%ED%A0%80", "application/x-www-form-urlencoded", 422, "status is not valid UTF-8"),
        (b"status=caf%E9", "application/x-www-form-urlencoded", 422, "status is not valid UTF-8"),
        (b"fields_attributes[0][value]=%00", "application/x-www-form-urlencoded", 422, "fields_attributes[0][value]"),
        # not JSON at all: 400 (as the inbox's parser says)
        (b'{"status": "\xed\xa0\x80"}', "application/json", 400, "The request body is not valid JSON"),
        (b'{"limit": NaN}', "application/json", 400, "The request body is not valid JSON"),
        (b'{"limit": -Infinity}', "application/json", 400, "The request body is not valid JSON"),
        (b'{"limit": 1e400}', "application/json", 400, "The request body is not valid JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "application/json", 400, "The request body is not valid JSON"),
    ],
)
async def test_text_that_cannot_be_stored_is_refused_naming_the_field(
    tiny: httpx.AsyncClient, body: bytes, content_type: str, status: int, error: str
) -> None:
    response = await tiny.post("/api/echo", content=body, headers={"Content-Type": content_type})
    assert response.status_code == status
    expected = f"Validation failed: {error}" if status == 422 else error
    assert response.json()["error"].startswith(expected)


@pytest.mark.parametrize("query", ["status=%00", "q=%ED%A0%80", "%00=1", "id[]=1&id[]=%C3"])
async def test_the_query_string_is_held_to_the_same_rule(tiny: httpx.AsyncClient, query: str) -> None:
    for response in (await tiny.get(f"/api/echo?{query}"), await tiny.post(f"/api/echo?{query}", json={})):
        assert response.status_code == 422
        assert response.json()["error"].startswith("Validation failed: ")


async def test_a_multipart_field_or_file_name_with_nul_is_refused(tiny: httpx.AsyncClient) -> None:
    response = await tiny.post("/api/echo", data={"status": "a\x00"}, files={"file": ("n.txt", b"x", "text/plain")})
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed: status contains a NUL character"}
    # httpx escapes control characters in a file name; a hand-made body need not
    body = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a\x00.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nx\r\n--b--\r\n"
    )
    response = await tiny.post("/api/echo", content=body, headers={"Content-Type": "multipart/form-data; boundary=b"})
    assert response.status_code == 422 and "file (its file name) contains a NUL" in response.json()["error"]


async def test_control_characters_other_than_nul_pass_the_reader(tiny: httpx.AsyncClient) -> None:
    # Storable text; what a field keeps of them is its own cleaner's decision (text.sanitize, core.profiles).
    text = "line\nbreak\ttab\x01\x1f\x7f\x85\u2028"
    assert (await tiny.post("/api/echo", json={"status": text})).json()["status"] == text
    assert (await tiny.post("/api/echo", data={"status": text})).json()["status"] == text
    assert (await tiny.get("/api/echo", params={"status": text})).json()["status"] == text


async def test_a_json_body_with_a_bom_and_big_numbers_is_still_read(tiny: httpx.AsyncClient) -> None:
    body = b'\xef\xbb\xbf{"status": "hi", "media_ids": [99999999999999999999]}'
    response = await tiny.post("/api/echo", content=body, headers={"Content-Type": "application/json"})
    assert response.json()["status"] == "hi" and response.json()["media_ids"] == ["99999999999999999999"]


@pytest.mark.parametrize(("text", "expected"), [("true", True), ("False", False), ("0", False), ("on", True)])
async def test_booleans_in_their_usual_spellings(tiny: httpx.AsyncClient, text: str, expected: bool) -> None:
    assert (await tiny.get("/api/echo", params={"sensitive": text})).json()["sensitive"] is expected


# ---- errors -------------------------------------------------------------------------------------
async def test_api_error_renders_mastodon_error_entity_with_description() -> None:
    async def fail(request: Request) -> Response:
        raise ApiError(422, "Validation failed", "status is too long")

    app = Starlette(routes=[Route("/api/fail", fail)], exception_handlers=exception_handlers)
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
        response = await client.get("/api/fail")
    assert response.status_code == 422
    assert response.json() == {"error": "Validation failed", "error_description": "status is too long"}


async def test_api_error_without_its_handler_still_renders_error(client: httpx.AsyncClient) -> None:
    # the app's generic HTTPException handler covers ApiError until the dedicated one is wired
    response = await client.get("/api/v1/preferences")
    assert response.status_code == 401
    assert response.json()["error"] == "The access token is invalid"


# ---- pagination ---------------------------------------------------------------------------------
async def test_link_header_is_mastodons_exact_shape(tiny: httpx.AsyncClient, settings: Settings) -> None:
    response = await tiny.get("/api/page?limit=2&types[]=mention&max_id=99&ids=30&ids=20")
    base = f"{settings.base_url}/api/page?limit=2&types%5B%5D=mention&ids=30&ids=20"
    assert response.headers["link"] == f'<{base}&max_id=20>; rel="next", <{base}&min_id=30>; rel="prev"'


async def test_no_link_header_for_an_empty_page(tiny: httpx.AsyncClient) -> None:
    response = await tiny.get("/api/page?max_id=5")
    assert response.json() == [] and "link" not in response.headers


async def test_page_params_read_cursors_and_clamp_the_limit(tiny: httpx.AsyncClient) -> None:
    request = Request({"type": "http", "query_string": b"max_id=&since_id=12&min_id=0&limit=500"})
    window = page_params(request)
    # an empty cursor is absent; 0 is a cursor before every id
    assert (window.max_id, window.since_id, window.min_id, window.limit) == (None, 12, 0, 40)
    assert page_params(Request({"type": "http", "query_string": b"limit=-3"}), default=20, maximum=40).limit == 3
    assert page_params(Request({"type": "http", "query_string": b"limit=0"})).limit == 20


@pytest.mark.parametrize(
    "query", ["max_id=abc", "since_id=%C2%B2", "min_id=99999999999999999999", "max_id=9223372036854775808",
              "since_id=-1", "max_id=+5", "min_id=%201", "max_id=007"],
)  # fmt: skip
async def test_a_cursor_that_is_not_an_id_is_a_400_naming_it(tiny: httpx.AsyncClient, query: str) -> None:
    response = await tiny.get(f"/api/page?{query}&ids=1")
    name = query.partition("=")[0]
    assert response.status_code == 400
    assert response.json() == {"error": f"{name} must be an id"}


async def test_keyset_windows_min_id_pages_after_the_cursor(db: Database) -> None:
    # given ids 1..10, when asking for the page right after 3 with limit 2
    window = page_params(Request({"type": "http", "query_string": b"min_id=3&limit=2"}))
    where, args, order = keyset(window, "id", 1)
    async with db.pool.acquire() as conn:
        await conn.execute("CREATE TEMP TABLE t (id bigint)")
        await conn.execute("INSERT INTO t SELECT generate_series(1, 10)")
        rows = await conn.fetch(f"SELECT id FROM t WHERE true {where} ORDER BY {order} LIMIT 2", *args)
    # then it is 4 and 5 (not 9 and 10), newest first
    assert newest_first([r["id"] for r in rows], window) == [5, 4]


def test_link_header_uses_join_row_ids_when_given() -> None:
    request = Request({"type": "http", "scheme": "https", "server": ("h", 443), "path": "/api/v1/favourites",
                       "query_string": b"", "headers": []})  # fmt: skip
    window = page_params(request)
    header = link_header(request, [5, 4], window, id_of_next=100, id_of_prev=200)
    assert header == (
        '<https://h/api/v1/favourites?max_id=100>; rel="next", <https://h/api/v1/favourites?min_id=200>; rel="prev"'
    )


# ---- bearer auth --------------------------------------------------------------------------------
def viewer(*scopes: str) -> Viewer:
    return Viewer(1, 1, 1, 1, frozenset(scopes), "member")


@pytest.mark.parametrize(
    ("granted", "wanted", "allowed"),
    [
        (("read",), "read:statuses", True),
        (("read",), "write:statuses", False),
        (("write",), "write:media", True),
        (("read:statuses",), "read:accounts", False),
        (("follow",), "write:follows", True),
        (("follow",), "read:blocks", True),
        (("follow",), "write:statuses", False),
        (("profile",), "profile", True),
        (("profile",), "read:accounts", False),
        (("read",), "profile", True),
        (("read:accounts",), "profile", True),
        (("admin:read",), "admin:read:accounts", True),
        (("admin:read",), "admin:write:accounts", False),
        (("read", "write"), "push", False),
        (("push",), "push", True),
    ],
)
def test_scope_hierarchy(granted: tuple[str, ...], wanted: str, allowed: bool) -> None:
    assert has_scope(viewer(*granted), wanted) is allowed


async def user_with_token(
    db: Database, urls: LocalUrls, scopes: str = "read"
) -> tuple[accounts.NewUser, dict[str, str]]:
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    return user, await api_headers(db.pool, user, scopes)


async def test_require_accepts_a_valid_user_token(tiny: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    user, headers = await user_with_token(db, urls, "read write")
    response = await tiny.get("/api/needs?scope=write:statuses", headers=headers)
    assert response.status_code == 200
    assert response.json() == {"actor_id": user.actor_id, "scopes": ["read", "write"]}


async def test_token_in_the_access_token_query_parameter(
    tiny: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    _, headers = await user_with_token(db, urls)
    token = headers["Authorization"].removeprefix("Bearer ")
    assert (await tiny.get(f"/api/needs?access_token={token}")).status_code == 200


@pytest.mark.parametrize("header", [None, "Bearer nope", "Basic abc", "Bearer "])
async def test_missing_or_unknown_token_is_401(tiny: httpx.AsyncClient, header: str | None) -> None:
    response = await tiny.get("/api/needs", headers={"Authorization": header} if header else {})
    assert response.status_code == 401
    assert response.json() == {"error": "The access token is invalid"}
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_read_token_is_403_on_a_write_action(tiny: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    _, headers = await user_with_token(db, urls, "read")
    response = await tiny.get("/api/needs?scope=write:statuses", headers=headers)
    assert response.status_code == 403
    assert response.json() == {"error": "This action is outside the authorized scopes"}


async def test_revoked_token_and_disabled_user_are_401(tiny: httpx.AsyncClient, db: Database, urls: LocalUrls) -> None:
    user, headers = await user_with_token(db, urls)
    await db.pool.execute("UPDATE users SET disabled = true WHERE id = $1", user.user_id)
    assert (await tiny.get("/api/needs", headers=headers)).status_code == 401
    await db.pool.execute("UPDATE users SET disabled = false WHERE id = $1", user.user_id)
    assert (await tiny.get("/api/needs", headers=headers)).status_code == 200
    await db.pool.execute("UPDATE oauth_tokens SET revoked_at = now()")
    assert (await tiny.get("/api/needs", headers=headers)).status_code == 401


async def test_organization_token_dies_with_the_membership(
    tiny: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    user = await accounts.create_user(db.pool, urls, "alice", "alice@example.com", PASSWORD)
    org = await accounts.create_organization(db.pool, urls, "acme", "alice")
    headers = await api_headers(db.pool, user, "read", actor_id=org["id"])
    assert (await tiny.get("/api/needs", headers=headers)).json()["actor_id"] == org["id"]
    await db.pool.execute("DELETE FROM organization_members")
    assert (await tiny.get("/api/needs", headers=headers)).status_code == 401


async def test_app_token_is_422_where_a_user_is_needed(tiny: httpx.AsyncClient, client: httpx.AsyncClient) -> None:
    app = (
        await client.post("/api/v1/apps", data={"client_name": "t", "redirect_uris": "urn:ietf:wg:oauth:2.0:oob"})
    ).json()
    token = (
        await client.post(
            "/oauth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["client_id"],
                "client_secret": app["client_secret"],
            },
        )
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    response = await tiny.get("/api/needs?scope=read", headers=headers)
    assert response.status_code == 422
    assert response.json() == {"error": "This method requires an authenticated user"}
    assert (await tiny.get("/api/needs?scope=read&user=0", headers=headers)).status_code == 200


async def test_optional_auth_is_anonymous_without_a_token_but_checks_a_given_one(
    tiny: httpx.AsyncClient, db: Database, urls: LocalUrls
) -> None:
    assert (await tiny.get("/api/maybe")).json() == {"anonymous": True}
    assert (await tiny.get("/api/maybe", headers={"Authorization": "Bearer forged"})).status_code == 401
    _, headers = await user_with_token(db, urls, "write")
    assert (await tiny.get("/api/maybe", headers=headers)).status_code == 403  # no read:statuses


# ---- static files -------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["default-avatar.png", "default-header.png", "thumbnail.png"])
async def test_default_images_are_served(client: httpx.AsyncClient, name: str) -> None:
    response = await client.get(f"/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/png"
    assert response.content.startswith(b"\x89PNG\r\n\x1a\n")


async def test_static_files_stay_inside_their_directory(client: httpx.AsyncClient) -> None:
    assert (await client.get("/static/../templates/authorize.html")).status_code == 404
    assert (await client.get("/static/%2e%2e/templates/authorize.html")).status_code == 404
