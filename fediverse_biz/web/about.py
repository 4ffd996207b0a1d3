"""`/about`: what this server is, its rules, who runs it, how to join. `/` sends visitors there.
`/privacy-policy`: the privacy policy (Mastodon's path; the v2 instance document links to it).

The texts are the ones the client API's instance document shows (api/instance.py reads them from
`instance_settings`, with defaults), so an app and the web page never disagree. Signing up happens in
the apps; the "Joining" section says that signing up means agreeing to the rules and the privacy policy,
and links to those that are published.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.config import Settings
from fediverse_biz.core import instance_settings, markdown
from fediverse_biz.core.instance_facts import describe, has_privacy_policy
from fediverse_biz.services import services
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import PRIVACY_POLICY_PATH, LocalUrls
from fediverse_biz.web.rendering import Meta, excerpt, render
from fediverse_biz.web.static_files import INSTANCE_THUMBNAIL
from fediverse_biz.web.views import author_view

NO_POLICY = "This server has not published a privacy policy."


async def about(request: Request) -> Response:
    settings: Settings = services(request).settings
    urls: LocalUrls = services(request).urls
    facts = await services(request).instance_facts.get()
    document = describe(settings, facts)
    admins = await services(request).pool.fetch(
        """SELECT a.* FROM users u JOIN actors a ON a.id = u.actor_id
            WHERE u.role = 'admin' AND NOT u.disabled AND u.approved AND a.suspended_at IS NULL
            ORDER BY u.id LIMIT 5"""
    )
    # The first paragraph is already the lead (the short description): not twice.
    paragraphs = [p for p in re.split(r"\n\s*\n", document["description"].strip()) if p.strip()]
    if paragraphs and " ".join(paragraphs[0].split()) == document["short_description"]:
        paragraphs = paragraphs[1:]
    context = {
        "about": document,
        "description_paragraphs": paragraphs,
        "privacy_policy_url": urls.base + PRIVACY_POLICY_PATH if has_privacy_policy(facts) else None,
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


async def privacy_policy(request: Request) -> Response:
    settings: Settings = services(request).settings
    urls: LocalUrls = services(request).urls
    policy = await instance_settings.document(services(request).pool, instance_settings.PRIVACY_POLICY)
    title = str((await services(request).instance_facts.get()).texts.get("title") or settings.domain)
    # Rendered by core/markdown.py, which sanitises its output: the template may mark it safe.
    policy_html = markdown.render(policy.text) if policy else None
    meta = Meta(
        title=f"Privacy policy of {title}",
        description=excerpt(html_to_text(policy_html)) if policy_html else NO_POLICY,
        url=urls.base + PRIVACY_POLICY_PATH,
        image=urls.static(INSTANCE_THUMBNAIL),
    )
    context = {
        "title": title,
        "policy_html": policy_html,
        "updated_at": policy.updated_at if policy else None,
    }
    return await render(request, "privacy_policy.html", context, meta=meta)


async def home(request: Request) -> Response:
    return RedirectResponse(f"{services(request).urls.base}/about", status_code=302)


routes: list[BaseRoute] = [
    Route("/", home, methods=["GET", "HEAD"]),
    Route("/about", about, methods=["GET", "HEAD"]),
    Route(PRIVACY_POLICY_PATH, privacy_policy, methods=["GET", "HEAD"]),
]
