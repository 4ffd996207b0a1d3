"""The form that posts a job offer or an opportunity to the boards (web/boards.py lists them).

    GET  /jobs/new, /opportunities/new   the form, for a signed-in member (web/session.py)
    POST /jobs/new, /opportunities/new   post it as the member or one of their organizations

The form posts through business.offers.create, like the JSON endpoint: the same rules, the same
refusals, a contributor's offer held for review. Where the API names the first bad field by its code,
the form shows every bad field at once, in words, beside the field (web/form_errors.py), and keeps
what was typed. No script; a CSRF token on the form.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import audit, offers, roles, teams
from fediverse_biz.business._currencies import CURRENCIES
from fediverse_biz.business._offer_values import DIRECTIONS, EMPLOYMENT_TYPES
from fediverse_biz.business.offer_text import EMPLOYMENT_LABELS
from fediverse_biz.business.sectors import SECTORS
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.ids import parse_id
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.boards import BOARDS
from fediverse_biz.web.form_errors import worded
from fediverse_biz.web.inputs import BadPageInput, page_form, page_query
from fediverse_biz.web.rendering import NO_STORE, Meta, render
from fediverse_biz.web.session import csrf_ok, csrf_token, current_user, login_redirect
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

_KIND_OF_FORM: Final = {f"/{path}/new": kind for kind, (path, _) in BOARDS.items()}
# What each field is called in a sentence, in the form's order (the errors are listed in this order).
NOUNS: Final = {
    "as": "The account to post as",
    "direction": "Offered or wanted",
    "title": "The title",
    "description": "The description",
    "employment_type": "The type of employment",
    "location": "The location",
    "remote": "Remote work",
    "salary_min": "The lowest salary",
    "salary_max": "The highest salary",
    "budget": "The budget",
    "quantity": "The quantity",
    "currency": "The currency",
    "sector": "The sector",
    "region": "The region",
    "apply": "How to apply",
    "valid_through": "The end date",
    "hall_id": "The community",
}
# The API's fields that the form shows as one input.
_INPUT_OF: Final = {"apply_url": "apply", "apply_email": "apply"}
_FORM_FIELDS: Final = ("title", "description", "location", "employment_type", "salary_min", "salary_max", "currency",
                       "sector", "region", "direction", "budget", "quantity", "valid_through")  # fmt: skip


def _kind(request: Request) -> str:
    return _KIND_OF_FORM[request.url.path.rstrip("/")]


async def _identities(pool: asyncpg.Pool, user: asyncpg.Record) -> list[dict[str, Any]]:
    """Who the member may post as: themselves, and each organization whose team they are on."""
    own = {"id": user["actor_id"], "name": f"@{user['username']} (you)", "role": None}
    organizations = [
        {"id": o["id"], "name": f"{o['display_name'] or o['username']} (@{o['username']})", "role": o["role"]}
        for o in await teams.organizations_of(pool, user["id"])
        if roles.member_may(o["role"], roles.Permission.POST)
    ]
    return [own, *organizations]


async def _form(
    request: Request,
    user: asyncpg.Record,
    status: int = 200,
    *,
    values: dict[str, str] | None = None,
    error: str | None = None,
    problems: dict[str, str] | None = None,
) -> Response:
    kind = _kind(request)
    if values is None:  # a new form: the hall it was opened from, if any
        values = {"hall_id": page_query(request).get("hall") or ""}
    pool = services(request).pool
    halls = await pool.fetch(
        "SELECT id, username, display_name FROM actors WHERE actor_type = 'Group' AND domain IS NULL "
        "AND suspended_at IS NULL ORDER BY lower(username)"
    )
    errors = worded({_INPUT_OF.get(k, k): v for k, v in (problems or {}).items()}, NOUNS)
    body = {
        "kind": kind,
        "boards": BOARDS,
        "identities": await _identities(pool, user),
        "halls": halls,
        "sectors": SECTORS,
        "currencies": CURRENCIES,
        "employment_types": {code: EMPLOYMENT_LABELS[code] for code in EMPLOYMENT_TYPES},
        "directions": DIRECTIONS,
        "csrf_token": csrf_token(request, user),
        "values": values,
        "error": error,
        "errors": errors,
    }
    urls: LocalUrls = services(request).urls
    title = f"Post to the {BOARDS[kind][1].lower()}"
    meta = Meta(
        title=title,
        description=title,
        url=urls.base + request.url.path,
        image=urls.static(INSTANCE_THUMBNAIL),
        noindex=True,
    )
    return await render(request, "offer_form.html", body, meta=meta, status_code=status, headers=NO_STORE)


async def new_offer(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return await _form(request, user)


async def create_offer(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    try:
        submitted: dict[str, str] = dict((await page_form(request)).pairs)
    except BadPageInput as exc:  # nothing posted yet, so no token to check: the form again, the field marked
        return await _form(request, user, 422, values=exc.values, problems={exc.field: exc.reason})
    if not csrf_ok(request, user, submitted.get("csrf_token")):
        return await _form(request, user, 403, values=submitted, error="This form has expired. Please send it again.")
    kind = _kind(request)
    values: dict[str, Any] = {"kind": kind, **{k: submitted[k] for k in _FORM_FIELDS if submitted.get(k, "").strip()}}
    values["remote"] = submitted.get("remote") == "1"
    apply = submitted.get("apply", "").strip()
    if apply:
        values["apply_email" if "@" in apply and "://" not in apply else "apply_url"] = apply
    pool = services(request).pool
    identities = {str(i["id"]): i for i in await _identities(pool, user)}
    wanted = submitted.get("as") or str(user["actor_id"])
    chosen = identities.get(wanted)
    if chosen is None:  # not, or no longer, on that team: refused, never posted as someone else instead
        return await _form(request, user, 403, values=submitted,
                           error="You may not post as that account: you are not on its team.")  # fmt: skip
    author = await pool.fetchrow("SELECT * FROM actors WHERE id = $1", chosen["id"])
    hall_id = submitted.get("hall_id", "").strip()
    hall = await pool.fetchrow(
        "SELECT * FROM actors WHERE id = $1 AND actor_type = 'Group'",
        parse_id(hall_id),
    )
    state = services(request)
    held = chosen["role"] is not None and roles.needs_review(chosen["role"])
    try:
        status_id = await offers.create(
            pool,
            state.urls,
            state.settings.domain,
            author,
            values,
            hall=hall,
            created_by_user_id=user["id"],
            hold_for_approval=held,
        )
    except offers.OfferInvalid as exc:
        return await _form(request, user, exc.status, values=submitted, problems=exc.problems)
    except DomainError as exc:
        return await _form(request, user, exc.status, values=submitted, error=str(exc))
    if chosen["role"] is not None:  # acting for an organization: its audit log records who posted what
        # The entry the API writes (api/offers.py): the post's URI (core.statuses.create's) as its target.
        details = {"status_id": str(status_id), "approval_state": "pending" if held else "published", "offer": kind}
        await audit.record(pool, author["id"], user["id"], "post", state.urls.status(author["uri"], status_id), details)
    path = BOARDS[kind][0]
    target = f"/{path}?held=1" if held else f"/@{author['username']}/{status_id}"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/jobs/new", new_offer, methods=["GET"]),
    Route("/opportunities/new", new_offer, methods=["GET"]),
    Route("/jobs/new", create_offer, methods=["POST"]),
    Route("/opportunities/new", create_offer, methods=["POST"]),
]
