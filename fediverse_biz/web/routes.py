"""The web routes, mounted by app.create_app (after the federation and API routes)."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse_biz.web import (
    about,
    account_pages,
    acting_page,
    audit_page,
    boards,
    community_pages,
    composer,
    directory_page,
    feeds,
    interaction,
    mail_pages,
    media_files,
    offer_form,
    pages,
    review,
    sign_in,
    sign_up,
    static_files,
    team_members,
)


def routes() -> list[BaseRoute]:
    return [
        *static_files.routes,
        *media_files.routes,
        # Order matters: `/@{username}` would take "alice.atom" as a name, and `/@{username}/{id}`
        # would take "remote_follow" as an id.
        *feeds.routes,
        *interaction.routes,
        *mail_pages.routes,  # before pages: /@{username}/subscribe is not a post id
        *pages.routes,
        *directory_page.routes,
        *community_pages.routes,  # halls; /c/{name} itself: federation/actor_endpoints.py
        *boards.routes,  # job board, opportunities board
        *offer_form.routes,  # the form that posts to them
        *about.routes,
        *sign_in.routes,
        *sign_up.routes,
        *account_pages.routes,  # the signed-in person's sessions and password
        *acting_page.routes,  # whom the back office acts as
        *composer.routes,  # writing a post as that account
        *review.routes,
        *team_members.routes,  # the team of the organization acted as
        *audit_page.routes,  # its audit log
    ]
