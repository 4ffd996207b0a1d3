"""`/about`: what this server is, its rules, who runs it, how to join. `/` sends visitors there.

The texts are the ones the client API's instance document shows (api/instance.py reads them from
`instance_settings`, with defaults), so an app and the web page never disagree.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from ..api.instance import instance_facts, instance_v1
from ..config import Settings
from ..core.urls import LocalUrls
from .rendering import Meta, excerpt, render
from .static_files import INSTANCE_THUMBNAIL
from .views import author_view


async def about(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    urls: LocalUrls = request.app.state.urls
    facts = await instance_facts(request)
    document = instance_v1(settings, facts)
    admins = await request.app.state.pool.fetch(
        """SELECT a.* FROM users u JOIN actors a ON a.id = u.actor_id
            WHERE u.role = 'admin' AND NOT u.disabled AND u.approved AND a.suspended_at IS NULL
            ORDER BY u.id LIMIT 5"""
    )
    context = {
        "about": document,
        "stats": {
            "users": facts.user_count,
            "statuses": facts.status_count,
            "domains": facts.domain_count,
        },
        "registrations": settings.registration_mode,
        "admins": [author_view(a, urls, settings.domain) for a in admins],
    }
    meta = Meta(
        title=f"About {document['title']}",
        description=excerpt(document["short_description"]),
        url=f"{urls.base}/about",
        image=urls.static(INSTANCE_THUMBNAIL),
        activity_json=urls.instance_actor(),
    )
    return await render(request, "about.html", context, meta=meta)


async def home(request: Request) -> Response:
    return RedirectResponse(f"{request.app.state.urls.base}/about", status_code=302)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET", "HEAD"]),
    Route("/about", about, methods=["GET", "HEAD"]),
]
