"""The frame of the team pages (sign-in, review queue, invitations): templates/review.html in one of its
states, inside the public pages' layout (header with whom the browser acts as, the one stylesheet),
never cached, never indexed."""

from __future__ import annotations

from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response

from fediverse_biz.services import services
from fediverse_biz.urls import LocalUrls
from fediverse_biz.web.rendering import NO_STORE, Meta, render
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL

TITLES: Final = {"login": "Sign in", "organizations": "Review queue", "invitation": "Invitation"}


async def page(request: Request, status: int = 200, **context: Any) -> Response:
    """review.html in one of its states (`page=`): login, organizations, queue, invitation, message."""
    state = context["page"]
    if state == "queue":
        title = f"Review: @{context['organization']['username']}"
    else:
        title = TITLES.get(state) or str(context.get("heading") or "Review queue")
    urls: LocalUrls = services(request).urls
    meta = Meta(title=title, description=title, url=urls.base + request.url.path,
                image=urls.static(INSTANCE_THUMBNAIL), noindex=True)  # fmt: skip
    body = {"user": None, "heading": "", "message": "", **context}
    return await render(request, "review.html", body, meta=meta, status_code=status, headers=NO_STORE)
