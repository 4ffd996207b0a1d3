"""E-mail updates from a booth (docs/mail.md): the form's answer, the confirmation and unsubscribe pages.

    POST /@{username}/subscribe        `email`, `frequency`, `consent`, `form_token`: records the consent and queues a
                                       confirmation mail; the booth again, saying so, or with the problem
                                       beside its field
    GET  /mail/confirm/{token}         a page with a button: link checkers that open every link in a mail
    POST /mail/confirm/{token}         must not confirm for the reader, so only the button's POST does
    GET  /mail/unsubscribe/{token}     a page with a button
    POST /mail/unsubscribe/{token}     unsubscribes (also the target of List-Unsubscribe-Post, RFC 8058)

The tokens in the links are the only credentials, and stand in for a CSRF token: whoever holds the
link got the mail. A forged, used or stale token gets the same 404 page as a missing one. Subscribing is
limited per IP (ratelimit.py) and per address (business/mail_subscriptions.py).
"""

from __future__ import annotations

from typing import Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import mail_subscriptions
from fediverse_biz.business.mail_jobs import MAIL_PATH
from fediverse_biz.core import oauth
from fediverse_biz.services import services
from fediverse_biz.web import pages
from fediverse_biz.web.form_errors import worded
from fediverse_biz.web.inputs import BadPageInput, page_form
from fediverse_biz.web.mail_box import FORM_MAX_AGE, FORM_PURPOSE, mail_enabled
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import secret
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

NOUNS: Final = {"email": "The e-mail address", "frequency": "How often", "consent": "The consent"}
_STALE = ("Link not valid", "This link is not valid any more: it was used, replaced by a newer one, or mistyped.")


async def subscribe(request: Request) -> Response:
    if not mail_enabled(request):
        return await error_page(request, 404, "Not found", "This server does not send e-mail.")
    actor = await pages.published_actor(services(request).pool, request.path_params["username"])
    if actor is None or actor["suspended_at"] is not None or actor["actor_type"] != "Organization":
        return await error_page(request, 404, "Not found", "There is no organization with this name here.")
    try:
        form = await page_form(request)
    except BadPageInput as exc:
        return await pages.booth(request, status_code=422, mail={"errors": worded({exc.field: exc.reason}, NOUNS)})
    email = (form.get("email") or "")[:mail_subscriptions.MAX_ADDRESS + 1]
    frequency = form.get("frequency") or "immediate"
    values = {"email": email, "frequency": frequency}
    if not oauth.verify_form_token(secret(request), form.get("form_token"), FORM_PURPOSE, [actor["username"]],
                                   max_age=FORM_MAX_AGE):  # fmt: skip
        errors = {"email": "This form has expired. Please send it again."}
        return await pages.booth(request, status_code=403, mail={"values": values, "errors": errors})
    page = services(request).urls.profile_page(actor["username"])
    try:
        await mail_subscriptions.subscribe(services(request).pool, actor, email, consent=form.get("consent") == "1",
                                           page=page, frequency=frequency)  # fmt: skip
    except mail_subscriptions.SubscriptionError as exc:
        errors = worded({exc.field: str(exc)}, NOUNS)
        return await pages.booth(request, status_code=exc.status, mail={"values": values, "errors": errors})
    return await pages.booth(request, mail={"sent": True})


async def _page(request: Request, state: str, name: str, action: str = "") -> Response:
    urls = services(request).urls
    meta = Meta(title="E-mail updates", description=f"E-mail updates from {name}", url=str(request.url),
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    context = {"state": state, "name": name, "action": action}
    return await render(request, "mail.html", context, meta=meta, headers=NO_STORE)


async def confirm_page(request: Request) -> Response:
    row = await mail_subscriptions.pending(services(request).pool, request.path_params["token"])
    if row is None:
        return await error_page(request, 404, *_STALE)
    return await _page(request, "confirm", row["display_name"] or row["username"], str(request.url.path))


async def confirm(request: Request) -> Response:
    row = await mail_subscriptions.confirm(services(request).pool, request.path_params["token"])
    if row is None:
        return await error_page(request, 404, *_STALE)
    return await _page(request, "confirmed", row["display_name"] or row["username"])


async def unsubscribe_page(request: Request) -> Response:
    row = await mail_subscriptions.by_unsubscribe_token(services(request).pool, secret(request),
                                                        request.path_params["token"])  # fmt: skip
    if row is None:
        return await error_page(request, 404, *_STALE)
    return await _page(request, "unsubscribe", row["display_name"] or row["username"], str(request.url.path))


async def unsubscribe(request: Request) -> Response:
    if not await mail_subscriptions.unsubscribe(services(request).pool, secret(request), request.path_params["token"]):
        return await error_page(request, 404, *_STALE)
    return await _page(request, "unsubscribed", "")


routes: list[BaseRoute] = [
    Route("/@{username}/subscribe", subscribe, methods=["POST"]),
    Route(MAIL_PATH + "/confirm/{token}", confirm_page, methods=["GET"]),
    Route(MAIL_PATH + "/confirm/{token}", confirm, methods=["POST"]),
    Route(MAIL_PATH + "/unsubscribe/{token}", unsubscribe_page, methods=["GET"]),
    Route(MAIL_PATH + "/unsubscribe/{token}", unsubscribe, methods=["POST"]),
]
