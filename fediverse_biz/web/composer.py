"""The composer: a post written on a page, as whom the browser acts as (web/acting.py).

    GET  /compose    the form: text, content warning, visibility, language, up to four images each with
                     its description, a hall to post into; the link to the review queue, with its count,
                     for those who review the organization's posts
    POST /compose    post it through core.statuses.create, like POST /api/v1/statuses; images through
                     core.media.store_upload, like POST /api/v2/media

The same rules as the API, from the same owners: business/roles.py decides (a member of the team may
post; a contributor's post is held for review by business.approvals, and the page says so), the
organization's audit log records who posted what, remote mentions are resolved by
federation.remote_actors.mention_resolver, and a text that follows the offers' convention is filed as
an offer. The form carries the id of the account it was shown
for: if the person is no longer on that team when it is sent, the post is refused (403), never
silently written as someone else.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.business import approvals, audit, offers, roles
from fediverse_biz.core import media, statuses
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.ids import parse_id
from fediverse_biz.federation import remote_actors
from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.acting import Identity, acting_as, identities
from fediverse_biz.web.form_errors import worded
from fediverse_biz.web.inputs import BadPageInput, page_form, page_query
from fediverse_biz.web.rendering import NO_STORE, Meta, error_page, render
from fediverse_biz.web.session import csrf_ok, current_user, login_redirect
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

SLOTS: Final = range(statuses.MAX_MEDIA)
VISIBILITY_LABELS: Final = {
    "public": "Public: everyone, on every timeline",
    "unlisted": "Unlisted: everyone, but not on public timelines",
    "private": "Followers only",
    "direct": "Only the accounts it mentions",
}
LANGUAGES: Final = {"": "Not stated", "en": "English", "de": "German", "fr": "French", "es": "Spanish",
                    "it": "Italian", "nl": "Dutch", "pl": "Polish", "pt": "Portuguese"}  # fmt: skip
NOUNS: Final = {
    "text": "The text",
    "spoiler_text": "The content warning",
    "visibility": "The visibility",
    "language": "The language",
    "hall_id": "The hall",
    **{f"file{n}": f"Image {n + 1}" for n in SLOTS},
    **{f"description{n}": f"The description of image {n + 1}" for n in SLOTS},
}
OUTCOMES: Final = {
    "held": "Your post waits for approval by the organization's owners or managers. It is published once approved.",
}


def _field_of(message: str) -> str:
    """Which field core.statuses' message is about (its messages name no field: they are the API's)."""
    lowered = message.lower()
    if "content warning" in lowered:
        return "spoiler_text"
    if "language" in lowered:
        return "language"
    if "visibility" in lowered:
        return "visibility"
    return "text"


async def _halls(pool: asyncpg.Pool) -> list[asyncpg.Record]:
    rows: list[asyncpg.Record] = await pool.fetch(
        "SELECT id, username, display_name FROM actors WHERE actor_type = 'Group' AND domain IS NULL "
        "AND suspended_at IS NULL ORDER BY lower(username)"
    )
    return rows


async def _form(
    request: Request, user: asyncpg.Record, status: int = 200, *, values: dict[str, str] | None = None,
    problems: dict[str, str] | None = None, error: str | None = None,
) -> Response:  # fmt: skip
    pool = services(request).pool
    acting = await acting_as(request, user)
    query = page_query(request)
    body: dict[str, Any] = {
        "acting": acting,
        "waiting": None if acting.personal else await approvals.waiting(pool, acting.id, user["id"]),
        "halls": await _halls(pool),
        "visibilities": VISIBILITY_LABELS,
        "languages": LANGUAGES,
        "slots": SLOTS,
        "values": values if values is not None else {"hall_id": query.get("hall") or "", "visibility": "public"},
        "errors": worded(problems or {}, NOUNS),
        "error": error,
        "outcome": OUTCOMES.get(query.get("done") or ""),
        "held": acting.role is not None and roles.needs_review(acting.role),
    }
    urls: LocalUrls = services(request).urls
    meta = Meta(title="Write a post", description="Write a post", url=urls.base + request.url.path,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    return await render(request, "composer.html", body, meta=meta, status_code=status, headers=NO_STORE)


async def compose_page(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    return await _form(request, user)


async def _author(request: Request, user: asyncpg.Record, wanted: int | None) -> Identity | None:
    """The identity the form was shown for, if the person may still post as it (business/roles.py)."""
    for identity in await identities(services(request).pool, user):
        if identity.id == wanted and (identity.personal or roles.member_may(identity.role, roles.Permission.POST)):
            return identity
    return None


async def compose(request: Request) -> Response:
    user = await current_user(request)
    if user is None:
        return login_redirect(request)
    files: dict[str, tuple[str, bytes]] = {}
    try:
        form = await page_form(request, files)
    except BadPageInput as exc:
        return await _form(request, user, 422, values=exc.values, problems={exc.field: exc.reason})
    values = dict(form.pairs)
    values.pop("csrf_token", None)
    if not csrf_ok(request, user, form.get("csrf_token")):
        return await _form(request, user, 403, values=values, error="This form has expired. Please send it again.")
    author = await _author(request, user, parse_id(form.get("as") or ""))
    if author is None:
        return await error_page(request, 403, "Not allowed",
                                "You may no longer post as that account: you are not on its team.")  # fmt: skip
    state = services(request)
    pool = state.pool
    text = form.get("text") or ""
    hall = await pool.fetchrow(
        "SELECT * FROM actors WHERE id = $1 AND actor_type = 'Group' AND domain IS NULL AND suspended_at IS NULL",
        parse_id(form.get("hall_id") or ""),
    )
    if hall is not None:  # a post into a hall mentions it, as from any Mastodon app (docs/communities.md)
        text = f"@{hall['username']} {text}"
    problems: dict[str, str] = {}
    media_ids: list[int] = []
    for n in SLOTS:
        if f"file{n}" not in files:
            continue
        filename, data = files[f"file{n}"]
        try:
            row = await media.store_upload(pool, state.settings, state.urls, author.id, data, filename,
                                           description=form.get(f"description{n}") or "")  # fmt: skip
            media_ids.append(int(row["id"]))
        except DomainError as exc:
            message = str(exc).removeprefix("Validation failed: ")
            problems[f"description{n}" if message.lower().startswith("description") else f"file{n}"] = message
    if problems:
        return await _form(request, user, 422, values=values, problems=problems)
    draft = statuses.Draft(
        text=text,
        visibility=form.get("visibility") or "public",
        spoiler_text=form.get("spoiler_text") or "",
        language=form.get("language") or None,
        media_ids=media_ids,
    )
    held = author.role is not None and roles.needs_review(author.role)
    resolver = remote_actors.mention_resolver(pool, state.http, state.instance_actor, state.settings)
    try:
        # As from any app: a post that follows the offers' text convention is filed as one (docs/offers.md).
        as_offer = offers.from_text(draft.text)
        status_id = await statuses.create(pool, state.urls, state.settings.domain, author.actor, draft,
                                          resolver=resolver, created_by_user_id=user["id"], hold_for_approval=held,
                                          after_write=as_offer)  # fmt: skip
    except DomainError as exc:
        message = str(exc).removeprefix("Validation failed: ")
        return await _form(request, user, exc.status, values=values, problems={_field_of(message): message})
    if not author.personal:  # the organization's audit log, as the API writes it (api/acting.record)
        uri = state.urls.status(author.actor["uri"], status_id)
        details = {"status_id": str(status_id), "approval_state": "pending" if held else "published"}
        await audit.record(pool, author.id, user["id"], "post", uri, details)
    target = "/compose?done=held" if held else f"/@{author.username}/{status_id}"
    return RedirectResponse(target, status_code=303, headers=NO_STORE)


routes: list[BaseRoute] = [
    Route("/compose", compose_page, methods=["GET"]),
    Route("/compose", compose, methods=["POST"]),
]
