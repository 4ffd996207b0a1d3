"""The team page and the audit log without a browser: an owner invites, changes a role, removes a member and
reads the log; every action is refused (403) to the roles that may not do it through the API, and to a person
not on the team, and every form is refused without its CSRF token. Nothing refused changes anything."""

from __future__ import annotations

from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.business import audit, teams
from fediverse_biz.config import Settings
from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.html import by_class, parse, text, text_of
from tests.support.mastodon_client import parse_page
from tests.support.teams import Team, make_team, person


@pytest.fixture
def pool(app: Starlette) -> asyncpg.Pool:
    return services(app).pool  # type: ignore[no-any-return]


@pytest.fixture
async def team(db: Database, urls: LocalUrls, app: Starlette) -> Team:
    return await make_team(db, urls, "acme")  # alice owner, mia manager, eddie editor, carl contributor


@pytest.fixture
async def outsider(db: Database, urls: LocalUrls, team: Team) -> Team:
    return await make_team(db, urls, "globex", {"olga": "owner"})  # olga: on another team, not on acme's


@pytest.fixture
async def browsers(app: Starlette, settings: Settings) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """One signed-out browser per person, made on demand by `signed_in`."""
    opened: dict[str, httpx.AsyncClient] = {}
    yield opened
    for client in opened.values():
        await client.aclose()


async def signed_in(app: Starlette, settings: Settings, browsers: dict[str, httpx.AsyncClient],
                    username: str) -> httpx.AsyncClient:  # fmt: skip
    if username not in browsers:
        client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=settings.base_url)
        forms = parse_page((await client.get("/session/login?next=/team")).text).forms
        form = next(f for f in forms if f.action.endswith("/session/login"))
        signed = await client.post(form.action, data={**form.hidden(), "login": username, "password": PASSWORD})
        assert signed.status_code == 303, signed.text
        browsers[username] = client
    return browsers[username]


async def csrf(client: httpx.AsyncClient) -> str:
    """The session's token, from the sign-out form of any signed-in page's header."""
    return parse_page((await client.get("/act-as")).text).forms[0].hidden()["csrf_token"]


async def state(pool: asyncpg.Pool, organization_id: int) -> tuple[list[tuple[int, str]], int, int]:
    """What a refused action must leave alone: the team, the open invitations, the log."""
    members = [(r["user_id"], r["role"]) for r in await teams.members(pool, organization_id)]
    invitations = len(await teams.open_invitations(pool, organization_id))
    entries = int(await pool.fetchval("SELECT count(*) FROM organization_audit_log WHERE organization_id = $1",
                                      organization_id))  # fmt: skip
    return members, invitations, entries


async def test_an_owner_invites_changes_the_role_removes_the_member_and_reads_the_log(
    app: Starlette, settings: Settings, db: Database, urls: LocalUrls, pool: asyncpg.Pool, team: Team,
    browsers: dict[str, httpx.AsyncClient],
) -> None:  # fmt: skip
    await person(db, urls, "nina")
    alice = await signed_in(app, settings, browsers, "alice")
    chosen = await alice.post("/act-as", data={"csrf_token": await csrf(alice), "actor": str(team.id)})
    assert chosen.status_code == 303
    to_team = await alice.get("/team")
    assert to_team.status_code == 303 and to_team.headers["location"] == "/team/acme"
    page = await alice.get("/team/acme")
    assert page.status_code == 200 and page.headers["cache-control"] == "private, no-store"
    members = [text_of(m) for m in by_class(parse(page.text), "member")]
    assert [m.split(" · ")[0] for m in members[:4]] == ["@alice (you)", "@mia", "@eddie", "@carl"]
    assert 'href="http://127.0.0.1/team/acme"' in page.text  # the header links the team page

    fields = {"csrf_token": await csrf(alice), "role": "contributor", "expires_in": "1"}
    made = await alice.post("/team/acme/invitations", data=fields)
    assert made.status_code == 200
    link = parse(made.text).find(".//input[@id='invitation-link']")
    assert link is not None and link.get("value", "").startswith("http://127.0.0.1/invitations/")
    token = link.get("value", "").rsplit("/", 1)[1]
    [invitation] = await teams.open_invitations(pool, team.id)
    assert invitation["role"] == "contributor"
    assert "For a contributor" in text(parse((await alice.get("/team/acme")).text))

    nina = await signed_in(app, settings, browsers, "nina")
    accepted = await nina.post(f"/invitations/{token}", data={"csrf_token": await csrf(nina)})
    assert accepted.status_code == 200 and "You are now a contributor of @acme" in accepted.text
    nina_id = await pool.fetchval(
        "SELECT u.id FROM users u JOIN actors a ON a.id = u.actor_id WHERE a.username = 'nina'")  # fmt: skip

    changed = await alice.post(f"/team/acme/members/{nina_id}/role", data={"csrf_token": await csrf(alice),
                                                                            "role": "editor"})  # fmt: skip
    assert changed.status_code == 303 and changed.headers["location"] == "/team/acme?done=role"
    assert await teams.member_role(pool, team.id, nina_id) == "editor"
    removed = await alice.post(f"/team/acme/members/{nina_id}/remove", data={"csrf_token": await csrf(alice)})
    assert removed.status_code == 303 and await teams.member_role(pool, team.id, nina_id) is None

    log = text(parse((await alice.get("/team/acme/audit")).text))
    for line in ("remove member · nina", "role change · nina", "accept invitation · nina",
                 f"invite · invitation {invitation['id']}", "from: contributor", "to: editor"):  # fmt: skip
        assert line in log, line
    only = parse((await alice.get("/team/acme/audit?action=role_change")).text)
    assert [text_of(e).split(" · ")[0] for e in only.iter("li") if (e.get("id") or "").startswith("entry-")] == [
        "role change"]  # fmt: skip


async def test_the_log_is_paged_and_an_unknown_action_is_ignored(
    app: Starlette, settings: Settings, pool: asyncpg.Pool, team: Team, browsers: dict[str, httpx.AsyncClient]
) -> None:
    for n in range(45):
        await audit.record(pool, team.id, team["mia"].user_id, "follow", f"@partner{n}@example.org")
    mia = await signed_in(app, settings, browsers, "mia")
    first = await mia.get("/team/acme/audit?action=follow")
    entries = [e for e in parse(first.text).iter("li") if (e.get("id") or "").startswith("entry-")]
    assert len(entries) == 40 and "@partner44@example.org" in text_of(entries[0])
    # the pager's link keeps the filter
    assert "Older entries" in first.text and "action=follow&amp;max_id=" in first.text
    href = first.text.split('Older entries')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    second = await mia.get(href)
    assert second.status_code == 200
    rest = [e for e in parse(second.text).iter("li") if (e.get("id") or "").startswith("entry-")]
    assert len(rest) == 5 and "@partner0@example.org" in text_of(rest[-1])
    ignored = await mia.get("/team/acme/audit?action=drop_tables")
    assert ignored.status_code == 200 and "is not an action the log records" in ignored.text
    assert (await mia.get("/team/acme/audit?max_id=abc")).status_code == 400


# (who, method path, form): each is refused by the API's rule for the same action (api/teams.py).
REFUSED = [
    *[(who, "/team/acme/audit", None) for who in ("eddie", "carl", "olga")],
    ("olga", "/team/acme", None),
    *[(who, "/team/acme/invitations", {"role": "contributor", "expires_in": "7"}) for who in ("eddie", "carl", "olga")],
    ("mia", "/team/acme/invitations", {"role": "owner", "expires_in": "7"}),  # only an owner invites an owner
    *[(who, "/team/acme/invitations/{invitation}/revoke", {}) for who in ("eddie", "carl", "olga")],
    ("mia", "/team/acme/invitations/{owner_invitation}/revoke", {}),
    *[(who, "/team/acme/members/{eddie}/role", {"role": "contributor"}) for who in ("eddie", "carl", "olga")],
    ("mia", "/team/acme/members/{alice}/role", {"role": "manager"}),  # only an owner touches an owner
    ("mia", "/team/acme/members/{carl}/role", {"role": "owner"}),  # nor makes one
    *[(who, "/team/acme/members/{eddie}/remove", {}) for who in ("carl", "olga")],
    ("eddie", "/team/acme/members/{carl}/remove", {}),
    ("mia", "/team/acme/members/{alice}/remove", {}),
]


@pytest.mark.parametrize(("who", "path", "form"), REFUSED)
async def test_each_action_is_refused_to_the_roles_that_may_not_do_it(
    app: Starlette, settings: Settings, pool: asyncpg.Pool, team: Team, outsider: Team,
    browsers: dict[str, httpx.AsyncClient], who: str, path: str, form: dict[str, str] | None,
) -> None:  # fmt: skip
    owner = team["alice"].user_id
    invitation = await teams.create_invitation(pool, team.id, owner, "editor")
    owner_invitation = await teams.create_invitation(pool, team.id, owner, "owner")
    path = path.format(invitation=invitation.id, owner_invitation=owner_invitation.id,
                       **{name: team[name].user_id for name in ("alice", "eddie", "carl")})  # fmt: skip
    before = await state(pool, team.id)
    client = await signed_in(app, settings, browsers, who)
    if form is None:
        response = await client.get(path)
    else:
        response = await client.post(path, data={**form, "csrf_token": await csrf(client)})
    assert response.status_code == 403, response.text
    assert "Not allowed" in text(parse(response.text))
    assert await state(pool, team.id) == before


FORMS = [
    ("/team/acme/invitations", {"role": "contributor", "expires_in": "7"}),
    ("/team/acme/invitations/{invitation}/revoke", {}),
    ("/team/acme/members/{carl}/role", {"role": "editor"}),
    ("/team/acme/members/{carl}/remove", {}),
]


@pytest.mark.parametrize(("path", "form"), FORMS)
@pytest.mark.parametrize("token", [None, "forged", "é" * 64])
async def test_every_form_is_refused_without_the_sessions_csrf_token(
    app: Starlette, settings: Settings, pool: asyncpg.Pool, team: Team, browsers: dict[str, httpx.AsyncClient],
    path: str, form: dict[str, str], token: str | None,
) -> None:  # fmt: skip
    invitation = await teams.create_invitation(pool, team.id, team["alice"].user_id, "editor")
    path = path.format(invitation=invitation.id, carl=team["carl"].user_id)
    before = await state(pool, team.id)
    alice = await signed_in(app, settings, browsers, "alice")
    response = await alice.post(path, data={**form, **({"csrf_token": token} if token is not None else {})})
    assert response.status_code == 403 and "This form has expired" in response.text
    assert await state(pool, team.id) == before


async def test_problems_are_said_beside_the_field_and_the_choices_are_kept(
    app: Starlette, settings: Settings, pool: asyncpg.Pool, team: Team, browsers: dict[str, httpx.AsyncClient]
) -> None:
    alice = await signed_in(app, settings, browsers, "alice")
    bad = await alice.post("/team/acme/invitations",
                           data={"csrf_token": await csrf(alice), "role": "boss", "expires_in": "365"})  # fmt: skip
    assert bad.status_code == 422
    page = parse(bad.text)
    for field, words in (("role", "The role must be owner, manager, editor or contributor."),
                         ("expires_in", "The link's lifetime must be 1 day, 7 days, 30 days.")):  # fmt: skip
        control = page.find(f".//select[@id='field-{field}']")
        assert control is not None and control.get("aria-invalid") == "true"
        message = page.find(f".//*[@id='error-{field}']")
        assert message is not None and text_of(message) == words
    assert not await teams.open_invitations(pool, team.id)

    last_owner = await alice.post(f"/team/acme/members/{team['alice'].user_id}/remove",
                                  data={"csrf_token": await csrf(alice)})  # fmt: skip
    assert last_owner.status_code == 422
    said = parse(last_owner.text).find(f".//*[@id='error-remove-{team['alice'].user_id}']")
    assert said is not None and "keeps at least one owner" in text_of(said)
    assert await teams.member_role(pool, team.id, team["alice"].user_id) == "owner"


async def test_a_member_sees_the_team_without_its_forms_and_may_leave(
    app: Starlette, settings: Settings, pool: asyncpg.Pool, team: Team, browsers: dict[str, httpx.AsyncClient]
) -> None:
    carl = await signed_in(app, settings, browsers, "carl")
    page = await carl.get("/team/acme")
    assert page.status_code == 200
    actions = [f.action for f in parse_page(page.text).forms]
    assert actions[1:] == [f"http://127.0.0.1/team/acme/members/{team['carl'].user_id}/remove"]  # leave only
    assert "Audit log" not in page.text and "Review queue" not in page.text and "Open invitations" not in page.text
    left = await carl.post(actions[1], data={"csrf_token": await csrf(carl)})
    assert left.status_code == 303 and await teams.member_role(pool, team.id, team["carl"].user_id) is None
    assert (await carl.get("/team/acme")).status_code == 403
    assert (await carl.get("/team")).status_code == 200  # acting as himself again: the way to choose


async def test_a_browser_without_a_session_is_sent_to_sign_in(client: httpx.AsyncClient, team: Team) -> None:
    for path in ("/team", "/team/acme", "/team/acme/audit"):
        response = await client.get(path)
        assert response.status_code == 303 and response.headers["location"] == f"/session/login?next={path}"
    sent = await client.post(f"/team/acme/members/{team['carl'].user_id}/remove", data={"csrf_token": "x"})
    assert sent.status_code == 303 and sent.headers["location"].startswith("/session/login?next=")
