"""The switcher between the person's own account and each organization whose team they are on.

    GET  /act-as    each identity with the role, the current one chosen
    POST /act-as    choose one (`actor`, an actor id); 403 for an account the person may not act as

Every signed-in page's header says whom the browser acts as and links here (templates/layout.html).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.core import browser_sessions
from fediverse_biz.core.ids import parse_id
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.acting import acting_as, identities
from fediverse_biz.web.inputs import page_form, page_query
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import csrf_ok, current_user, login_redirect, safe_next
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL


async def switcher(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    urls: LocalUrls = services(request).urls
    context = {
        "choices": await identities(services(request).pool, user),
        "current": (await acting_as(request, user)).id,
        "next": safe_next(page_query(request).get("next"), "/compose"),
    }
    meta = Meta(title="Act as", description="Act as", url=urls.base + request.url.path,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    return await render(request, "acting.html", context, meta=meta, headers=NO_STORE)


async def choose(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    form = await page_form(request)
    if not csrf_ok(request, user, form.get("csrf_token")):
        return await error_page(request, 403, "Form expired", "This form has expired. Reload the page and try again.")
    pool = services(request).pool
    wanted = parse_id(form.get("actor") or "")
    chosen = next((i for i in await identities(pool, user) if i.id == wanted), None)
    if chosen is None:  # not theirs, or no longer: the same refusal as the API's for a token
        return await error_page(request, 403, "Not allowed", "You are not on the team of that account.",
                                back="/act-as")  # fmt: skip
    await browser_sessions.act_as(pool, user["session_id"], None if chosen.personal else chosen.id)
    return RedirectResponse(safe_next(form.get("next"), "/compose"), status_code=303, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/act-as", switcher, methods=["GET"]),
    Route("/act-as", choose, methods=["POST"]),
]
