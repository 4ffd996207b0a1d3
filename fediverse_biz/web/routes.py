"""The web routes, mounted by app.create_app (after the federation and API routes)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse_biz.web import (
    about,
    boards,
    community_pages,
    directory_page,
    feeds,
    interaction,
    media_files,
    pages,
    review,
    session,
    static_files,
)


def routes() -> list[BaseRoute]:
    return [
        *static_files.routes,
        *media_files.routes,
        # Order matters: `/@{username}` would take "alice.atom" as a name, and `/@{username}/{id}`
        # would take "remote_follow" as an id.
        *feeds.routes,
        *interaction.routes,
        *pages.routes,
        *directory_page.routes,
        *community_pages.routes,  # halls; /c/{name} itself: federation/actor_endpoints.py
        *boards.routes,  # job board, opportunities board and their form
        *about.routes,
        *session.routes,
        *review.routes,
    ]
