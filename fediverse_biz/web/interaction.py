"""Remote follow, both ways, without JavaScript (the OStatus subscribe-template flow Mastodon uses).

- A visitor on a booth types `user@their.server`: we ask their server's WebFinger for the
  `http://ostatus.org/schema/1.0/subscribe` template and send them there with `{uri}` = our actor's
  URI; their server asks them to confirm. Only the safe client fetches (net/fetch.py: no
  private addresses, capped, timed out), and only the JRD is read — nothing from it is stored.
- One of our members, on another server's page, types their address here: our WebFinger names
  `/authorize_interaction?uri={uri}` (activitypub/webfinger.py build_jrd). A browser signed in on the
  pages (web/session.py) only confirms, as the account it acts as or another it may follow for; otherwise
  the member signs in on the form itself, as on the OAuth page. The remote account is resolved only for
  a signed-in member or after a correct password, so an anonymous visitor cannot make this server fetch
  arbitrary URLs; a signed form token ties the submission to the page we served, and a signed-in
  submission carries the session's CSRF token too.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote, urlencode

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.activitypub.activities import http_uri
from fediverse_biz.activitypub.webfinger import SUBSCRIBE_REL, AcctResource, InvalidResource, parse_acct
from fediverse_biz.business import audit, roles, teams
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts, follows, oauth
from fediverse_biz.core.errors import DomainError
from fediverse_biz.federation.remote_actors import RemoteActorError, instance_signer, resolve_actor, resolve_handle
from fediverse_biz.net.fetch import FetchError, fetch_json
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.acting import acting_as, identities
from fediverse_biz.web.inputs import BadPageInput, page_form, page_query
from fediverse_biz.web.pages import published_actor
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import csrf_ok, current_user
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.views import author_view

FORM_MAX_AGE: Final = 3600
FORM_PURPOSE: Final = "authorize_interaction"
MAX_ADDRESS: Final = 300
JRD_ACCEPT: Final = "application/jrd+json, application/json"


def _webfinger_scheme(settings: Settings) -> str:
    # Real servers are https; on a developer's machine (and in tests) peers run over http on loopback.
    return settings.scheme if settings.is_local_development else "https"


def subscribe_template(jrd: Mapping[str, Any]) -> str | None:
    """The subscribe link's template from a JRD, if it is one we can fill in."""
    links = jrd.get("links")
    for link in links if isinstance(links, list) else []:
        if isinstance(link, Mapping) and link.get("rel") == SUBSCRIBE_REL:
            template = link.get("template")
            if isinstance(template, str) and "{uri}" in template:
                return template
    return None


# ---- a visitor follows one of our accounts from their own server -------------------------------
async def remote_follow(request: Request) -> Response:
    settings: Settings = services(request).settings
    urls: LocalUrls = services(request).urls
    actor = await published_actor(services(request).pool, request.path_params["username"])
    if actor is None or actor["suspended_at"] is not None:
        return await error_page(request, 404, "Not found", "There is no account with this name here.")
    booth = urls.profile_page(actor["username"])
    try:
        address = ((await page_form(request)).get("acct") or "").strip()
    except BadPageInput as exc:
        message = f"This is not a fediverse address: {exc}. It looks like you@your.server."
        return await error_page(request, 422, "Check your address", message, back=booth)
    try:
        acct = parse_acct(address[:MAX_ADDRESS])
    except InvalidResource:
        shown = f"“{address[:80]}”" if address.isprintable() else "This"
        message = f"{shown} is not a fediverse address. It looks like you@your.server."
        return await error_page(request, 422, "Check your address", message, back=booth)
    if acct.domain in (settings.domain.lower(), settings.hostname.lower()):
        # A member of this server: no need to ask anyone.
        return RedirectResponse(f"{urls.base}/authorize_interaction?{urlencode({'uri': actor['uri']})}", 303)
    template = await _find_template(request, acct)
    target = http_uri(template.replace("{uri}", quote(actor["uri"], safe=""))) if template else None
    if target is None:
        message = f"{acct.domain} did not tell us where to confirm a follow. Search for {actor['uri']} there instead."
        return await error_page(request, 502, "Your server did not answer", message, back=booth)
    # 303: the browser follows with a GET, whatever method the form used.
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


async def _find_template(request: Request, acct: AcctResource) -> str | None:
    resource = quote(f"acct:{acct.username}@{acct.domain}", safe=":@")
    url = f"{_webfinger_scheme(services(request).settings)}://{acct.domain}/.well-known/webfinger?resource={resource}"
    try:
        jrd = await fetch_json(services(request).http, url, accept=JRD_ACCEPT, content_types=None)
    except FetchError:
        return None
    return subscribe_template(jrd)


# ---- one of our members follows an account they found elsewhere --------------------------------
def _secret(request: Request) -> str:
    secret = services(request).settings.secret_key
    if not secret:
        raise RuntimeError("settings.secret_key is not set; `fediverse-biz init` creates one")
    return str(secret)


async def _known_actor(pool: asyncpg.Pool, uri: str) -> asyncpg.Record | None:
    """What we already know of the target, for the confirmation page. Never fetches."""
    if http_uri(uri):
        return await pool.fetchrow("SELECT * FROM actors WHERE uri = $1 AND suspended_at IS NULL", uri)
    try:
        acct = parse_acct(uri)
    except InvalidResource:
        return None
    return await pool.fetchrow(
        """SELECT * FROM actors WHERE lower(username) = lower($1) AND domain = $2 AND suspended_at IS NULL""",
        acct.username,
        acct.domain,
    )


async def _interaction_page(
    request: Request,
    uri: str,
    *,
    status_code: int = 200,
    error: str | None = None,
    login: str = "",
    followed: asyncpg.Record | None = None,
    pending: bool = False,
) -> Response:
    urls: LocalUrls = services(request).urls
    settings: Settings = services(request).settings
    target = followed if followed is not None else await _known_actor(services(request).pool, uri)
    user = await current_user(request)
    choices = await identities(services(request).pool, user) if user is not None else []
    context = {
        "uri": uri,
        "identities": [i for i in choices if i.personal or roles.member_may(i.role, roles.Permission.FOLLOW)],
        "acting": (await acting_as(request, user)).username if user is not None else "",
        "target": author_view(target, urls, settings.domain) if target is not None else None,
        "error": error,
        "login": login,
        "done": followed is not None,
        "pending": pending,
        "csrf_token": oauth.sign_form_token(_secret(request), FORM_PURPOSE, [uri]),
    }
    meta = Meta(
        title="Follow an account",
        description="Follow an account from your account on this server.",
        url=f"{urls.base}/authorize_interaction",
        image=urls.static(INSTANCE_THUMBNAIL),
        noindex=True,
    )
    return await render(request, "interaction.html", context, meta=meta, status_code=status_code, headers=NO_STORE)


async def authorize_interaction(request: Request) -> Response:
    uri = (page_query(request).get("uri") or "").strip().removeprefix("acct:")
    if not uri or len(uri) > 2048 or not uri.isprintable():
        return await error_page(request, 400, "Nothing to follow", "This link does not name an account.")
    return await _interaction_page(request, uri)


async def confirm_interaction(request: Request) -> Response:
    try:
        form = await page_form(request)
    except BadPageInput as exc:
        uri = exc.values.get("uri", "").strip()
        if not uri or exc.field == "uri":
            raise  # nothing to show the form for: the 400 page
        error = f"This form could not be read: {exc}."  # the form again, saying which field
        return await _interaction_page(request, uri, status_code=400, error=error, login=exc.values.get("login", ""))
    uri, login = (form.get("uri") or "").strip(), (form.get("login") or "").strip()
    if not oauth.verify_form_token(
        _secret(request), form.get("csrf_token") or "", FORM_PURPOSE, [uri], max_age=FORM_MAX_AGE
    ):
        message = "This form has expired or was not issued here. Please start again from the other server."
        return await error_page(request, 403, "Please start again", message)
    pool: asyncpg.Pool = services(request).pool
    signed_in = await current_user(request)
    if signed_in is not None and not login:  # the session, not a password: its CSRF token must match too
        if not csrf_ok(request, signed_in, form.get("session_csrf")):
            return await error_page(request, 403, "Please start again", "This form has expired. Reload the page.")
        user = signed_in
    else:
        try:
            user = await oauth.authenticate_user(pool, login, form.get("password") or "")
        except oauth.OAuthError as exc:
            return await _interaction_page(request, uri, status_code=403, error=exc.description, login=login)
    follower = await _acting_actor(pool, user, (form.get("actor") or "").strip())
    if isinstance(follower, str):
        return await _interaction_page(request, uri, status_code=403, error=follower, login=login)
    try:
        target = await _resolve(request, uri)
    except RemoteActorError as exc:
        message = f"Could not find that account: {exc}"
        return await _interaction_page(request, uri, status_code=422, error=message, login=login)
    if target["suspended_at"] is not None:
        return await _interaction_page(request, uri, status_code=410, error="That account is gone.", login=login)
    try:
        await follows.follow(pool, follower, target)
    except DomainError as exc:
        return await _interaction_page(request, uri, status_code=exc.status, error=str(exc), login=login)
    if follower["id"] != user["actor_id"]:  # acting for an organization: the team's log says who
        await audit.record(pool, follower["id"], user["id"], "follow", target["uri"])
    pending = await pool.fetchval(
        "SELECT 1 FROM follow_requests WHERE actor_id = $1 AND target_actor_id = $2", follower["id"], target["id"]
    )
    return await _interaction_page(request, uri, followed=target, pending=bool(pending))


async def _acting_actor(pool: asyncpg.Pool, user: asyncpg.Record, chosen: str) -> asyncpg.Record | str:
    """The member's own account, or an organization they may follow for (FOLLOW permission); a
    message when they may not."""
    own = await accounts.acting_actor(pool, user["actor_id"])
    if not chosen or chosen.lower() == own["username"].lower():
        return own
    org = await pool.fetchrow(
        "SELECT * FROM actors WHERE lower(username) = lower($1) AND domain IS NULL AND suspended_at IS NULL", chosen
    )
    role = await teams.member_role(pool, org["id"], user["id"]) if org is not None else None
    if org is None or not roles.member_may(role, roles.Permission.FOLLOW):
        return f"You may not follow accounts for {chosen}."
    return org


async def _resolve(request: Request, uri: str) -> asyncpg.Record:
    pool: asyncpg.Pool = services(request).pool
    signer = instance_signer(services(request).instance_actor)
    if http_uri(uri):
        return await resolve_actor(pool, services(request).http, uri, signer=signer)
    scheme = _webfinger_scheme(services(request).settings)
    return await resolve_handle(pool, services(request).http, uri, signer=signer, scheme=scheme)


routes: list[BaseRoute] = [
    Route("/authorize_interaction", authorize_interaction, methods=["GET", "HEAD"]),
    Route("/authorize_interaction", confirm_interaction, methods=["POST"]),
    Route("/@{username}/remote_follow", remote_follow, methods=["POST"]),
]
