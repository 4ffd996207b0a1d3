"""Members, roles and invitations of an organization (business/teams.py, api/teams.py, web/review.py)."""

from __future__ import annotations

import html5lib
import httpx
import pytest

from fediverse_biz.business import teams
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.mastodon_client import parse_page
from tests.support.mastodon_schemas import assert_matches
from tests.support.social import error, member
from tests.support.teams import Team, make_team


@pytest.fixture
async def team(db: Database, urls: LocalUrls) -> Team:
    return await make_team(db, urls)


def parse_html5(text: str) -> None:
    """Raise unless `text` is a well-formed HTML5 document (html5lib in strict mode)."""
    html5lib.HTMLParser(strict=True).parse(text)


# ---- members and roles -------------------------------------------------------------------------
async def test_the_team_is_listed_strongest_role_first(client: httpx.AsyncClient, team: Team) -> None:
    body = (await client.get(team.path("/members"), headers=team["carl"].personal)).json()
    assert [(m["account"]["username"], m["role"]) for m in body] == [
        ("alice", "owner"),
        ("mia", "manager"),
        ("eddie", "editor"),
        ("carl", "contributor"),
    ]
    assert body[0]["user_id"] == str(team["alice"].user_id)
    for entry in body:
        assert_matches("account", entry["account"])


async def test_outsiders_and_unknown_organizations(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    olga = await member(db, urls, "olga")
    assert (
        await error(client.get(team.path("/members"), headers=olga.headers), 403)
        == "You are not a member of this organization"
    )
    await error(client.get(f"/api/v1/organizations/{olga.id}/members", headers=olga.headers), 404)  # a person
    await error(client.get("/api/v1/organizations/nope/members", headers=olga.headers), 404)


async def test_managers_add_and_change_members_owners_handle_owners(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    nina = await member(db, urls, "nina")
    mia, alice = team["mia"].personal, team["alice"].personal
    added = (await client.post(team.path("/members"), data={"username": "nina", "role": "editor"}, headers=mia)).json()
    assert added["role"] == "editor" and added["account"]["id"] == nina.account_id
    await error(client.post(team.path("/members"), data={"username": "nina"}, headers=mia), 409)  # already in
    nina_path = team.path(f"/members/{nina.user.user_id}")
    assert (await client.patch(nina_path, data={"role": "contributor"}, headers=mia)).json()["role"] == "contributor"
    await error(client.patch(nina_path, data={"role": "owner"}, headers=mia), 403)  # only owners make owners
    await error(client.patch(team.path(f"/members/{team['alice'].user_id}"), data={"role": "editor"}, headers=mia), 403)
    await error(client.delete(team.path(f"/members/{team['alice'].user_id}"), headers=mia), 403)
    await error(client.patch(nina_path, data={"role": "boss"}, headers=mia), 422)
    assert (await client.patch(nina_path, data={"role": "owner"}, headers=alice)).json()["role"] == "owner"
    # now an owner: a manager can no longer touch nina
    await error(client.delete(nina_path, headers=mia), 403)
    assert (await client.delete(nina_path, headers=alice)).status_code == 200
    assert await teams.member_role(db.pool, team.id, nina.user.user_id) is None


async def test_the_last_owner_stays(client: httpx.AsyncClient, team: Team) -> None:
    alice = team["alice"]
    own_path = team.path(f"/members/{alice.user_id}")
    assert "at least one owner" in await error(
        client.patch(own_path, data={"role": "manager"}, headers=alice.personal), 422
    )
    assert "at least one owner" in await error(client.delete(own_path, headers=alice.personal), 422)
    # with a second owner, the first may step down and then leave
    mia_path = team.path(f"/members/{team['mia'].user_id}")
    await checked_member(client.patch(mia_path, data={"role": "owner"}, headers=alice.personal), "owner")
    await checked_member(client.patch(own_path, data={"role": "manager"}, headers=alice.personal), "manager")
    assert (await client.delete(own_path, headers=alice.personal)).status_code == 200  # a manager may leave


async def checked_member(call: object, role: str) -> None:
    response = await call  # type: ignore[misc]
    assert response.status_code == 200 and response.json()["role"] == role, response.text


async def test_a_refusal_names_the_role_with_its_article(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    """Each sentence that puts a role into words: "An editor", "A contributor" (never "A editor")."""
    olga = await member(db, urls, "olga")
    eddie, carl = team["eddie"], team["carl"]
    posted = await client.post("/api/v1/statuses", data={"status": "From the editor"}, headers=eddie.as_org)
    refusals = [
        # api/auth.require_permission: the Mastodon endpoints acting for the organization
        (lambda: client.post(f"/api/v1/accounts/{olga.id}/block", headers=eddie.as_org),
         "An editor of this organization may not do this (block)"),
        # api/teams: the team endpoints
        (lambda: client.post(team.path("/invitations"), data={"role": "contributor"}, headers=eddie.personal),
         "An editor of this organization may not do this (members)"),
        (lambda: client.delete(team.path(f"/members/{eddie.user_id}"), headers=carl.personal),
         "A contributor of this organization may not remove members"),
        # api/acting: someone else's post
        (lambda: client.delete(f"/api/v1/statuses/{posted.json()['id']}", headers=carl.as_org),
         "A contributor may not change posts other team members wrote"),
    ]  # fmt: skip
    for call, description in refusals:
        response = await call()
        assert response.status_code == 403, response.text
        assert response.json() == {
            "error": "Your role in this organization does not allow this action",
            "error_description": description,
        }


async def test_a_token_acting_as_the_organization_shows_none_of_its_users_instance_role(
    client: httpx.AsyncClient, db: Database, team: Team
) -> None:
    alice = team["alice"]
    await db.pool.execute("UPDATE users SET role = 'admin' WHERE id = $1", alice.user_id)

    as_org = await client.get("/api/v1/accounts/verify_credentials", headers=alice.as_org)
    personal = await client.get("/api/v1/accounts/verify_credentials", headers=alice.personal)

    for response in (as_org, personal):
        assert response.status_code == 200, response.text
        assert_matches("credential_account", response.json())
    assert (as_org.json()["username"], as_org.json()["role"]["name"]) == ("acme", "member")
    assert (personal.json()["username"], personal.json()["role"]["name"]) == ("alice", "admin")


async def test_anyone_may_leave_but_not_remove_others(client: httpx.AsyncClient, db: Database, team: Team) -> None:
    carl = team["carl"]
    await error(client.delete(team.path(f"/members/{team['eddie'].user_id}"), headers=carl.personal), 403)
    assert (await client.delete(team.path(f"/members/{carl.user_id}"), headers=carl.personal)).status_code == 200
    # his token for the organization stops working at once
    await error(client.get("/api/v1/accounts/verify_credentials", headers=carl.as_org), 401)


async def test_a_role_change_applies_to_live_tokens(client: httpx.AsyncClient, team: Team) -> None:
    eddie = team["eddie"]
    first = (await client.post("/api/v1/statuses", data={"status": "as editor"}, headers=eddie.as_org)).json()
    assert "fediverse_biz" not in first  # published
    path = team.path(f"/members/{eddie.user_id}")
    await checked_member(client.patch(path, data={"role": "contributor"}, headers=team["mia"].personal), "contributor")
    second = (await client.post("/api/v1/statuses", data={"status": "as contributor"}, headers=eddie.as_org)).json()
    assert second["fediverse_biz"]["approval_state"] == "pending"  # same token, new role


# ---- invitations -------------------------------------------------------------------------------
async def invite(
    client: httpx.AsyncClient, team: Team, headers: dict[str, str], role: str = "editor"
) -> dict[str, str]:
    response = await client.post(team.path("/invitations"), data={"role": role}, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, str] = response.json()
    return body


async def test_an_invitation_is_accepted_once_by_a_signed_in_user(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    made = await invite(client, team, team["mia"].personal)
    assert made["url"] == f"{urls.base}/invitations/{made['token']}" and made["role"] == "editor"
    stored = await db.pool.fetchrow("SELECT * FROM organization_invitations")
    assert made["token"] not in str(dict(stored)) and stored["token_hash"] == teams.hash_token(made["token"])
    listed = (await client.get(team.path("/invitations"), headers=team["mia"].personal)).json()
    assert [i["id"] for i in listed] == [made["id"]]
    await error(client.post(f"/api/v1/invitations/{made['token']}/accept"), 401)  # signed-in users only
    nina, omar = await member(db, urls, "nina"), await member(db, urls, "omar")
    joined = (await client.post(f"/api/v1/invitations/{made['token']}/accept", headers=nina.headers)).json()
    assert joined["role"] == "editor" and joined["organization"]["id"] == str(team.id)
    assert await teams.member_role(db.pool, team.id, nina.user.user_id) == "editor"
    assert "already been used" in await error(
        client.post(f"/api/v1/invitations/{made['token']}/accept", headers=omar.headers), 410
    )
    assert await teams.member_role(db.pool, team.id, omar.user.user_id) is None
    assert (await client.get(team.path("/invitations"), headers=team["mia"].personal)).json() == []


async def test_an_expired_or_revoked_invitation_is_refused(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    nina = await member(db, urls, "nina")
    old = await invite(client, team, team["alice"].personal)
    await db.pool.execute("UPDATE organization_invitations SET expires_at = now() - interval '1 second'")
    assert "expired" in await error(
        client.post(f"/api/v1/invitations/{old['token']}/accept", headers=nina.headers), 410
    )
    revoked = await invite(client, team, team["alice"].personal)
    assert (
        await client.delete(team.path(f"/invitations/{revoked['id']}"), headers=team["mia"].personal)
    ).status_code == 200
    assert "revoked" in await error(
        client.post(f"/api/v1/invitations/{revoked['token']}/accept", headers=nina.headers), 410
    )
    await error(client.post("/api/v1/invitations/made-up/accept", headers=nina.headers), 404)
    assert await teams.member_role(db.pool, team.id, nina.user.user_id) is None
    await error(
        client.post(
            team.path("/invitations"), data={"role": "editor", "expires_in": "10"}, headers=team["alice"].personal
        ),
        422,
    )


async def test_invitations_belong_to_one_organization(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    other = await make_team(db, urls, "globex", {"gus": "owner", "gina": "manager"})
    nina = await member(db, urls, "nina")
    # a manager of acme cannot invite into globex, nor revoke globex's invitations through acme
    await error(client.post(other.path("/invitations"), data={"role": "editor"}, headers=team["mia"].personal), 403)
    theirs = await invite(client, other, other["gina"].personal)
    await error(client.delete(team.path(f"/invitations/{theirs['id']}"), headers=team["mia"].personal), 404)
    ours = await invite(client, team, team["mia"].personal, "contributor")
    await client.post(f"/api/v1/invitations/{ours['token']}/accept", headers=nina.headers)
    assert await teams.member_role(db.pool, team.id, nina.user.user_id) == "contributor"
    assert await teams.member_role(db.pool, other.id, nina.user.user_id) is None


async def test_who_may_invite_whom(client: httpx.AsyncClient, team: Team) -> None:
    await error(client.post(team.path("/invitations"), data={"role": "owner"}, headers=team["mia"].personal), 403)
    await invite(client, team, team["alice"].personal, "owner")
    await invite(client, team, team["mia"].personal, "manager")
    for who in ("eddie", "carl"):
        await error(
            client.post(team.path("/invitations"), data={"role": "contributor"}, headers=team[who].personal), 403
        )


async def test_accepting_an_invitation_in_the_browser(
    client: httpx.AsyncClient, db: Database, urls: LocalUrls, team: Team
) -> None:
    await member(db, urls, "nina")
    made = await invite(client, team, team["mia"].personal, "contributor")
    link = f"/invitations/{made['token']}"
    anonymous = await client.get(link)
    assert anonymous.status_code == 200 and "Sign in to accept" in anonymous.text
    assert "You are invited to join @acme as <strong>a contributor</strong>." in anonymous.text
    parse_html5(anonymous.text)
    # sign in through the session login page, which sends the browser back to the invitation
    login_page = await client.get(f"/session/login?next={link}")
    parse_html5(login_page.text)
    form = parse_page(login_page.text).forms[0]
    signed_in = await client.post(
        form.action, data={**form.hidden(), "login": "nina", "password": PASSWORD}, follow_redirects=False
    )
    assert signed_in.status_code == 303 and signed_in.headers["location"] == link
    cookie = signed_in.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    page = await client.get(link)
    parse_html5(page.text)
    accept = parse_page(page.text).forms[-1]
    assert accept.action == link
    forged = await client.post(link, data={"csrf_token": "1.forged"})
    assert forged.status_code == 403
    done = await client.post(link, data=accept.hidden())
    assert done.status_code == 200 and "You are now a contributor of @acme." in done.text
    parse_html5(done.text)
    used = await client.get(link)
    assert "already been used" in used.text


async def test_a_forged_session_cookie_is_no_session(client: httpx.AsyncClient, team: Team) -> None:
    client.cookies.set("fediverse_biz_session", f"{team['mia'].user_id}.1700000000.deadbeef")
    response = await client.get("/review", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/session/login")
    wrong = await client.post(
        "/session/login", data={"login": "mia", "password": PASSWORD, "next": "/review", "csrf_token": "x"}
    )
    assert wrong.status_code == 403  # the login form needs its own token
