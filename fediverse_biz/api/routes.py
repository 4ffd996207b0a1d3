"""The api routes, mounted by app.create_app: one `routes` list per resource module, concatenated."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse_biz.api import (
    account_data,
    account_notes,
    accounts,
    apps,
    communities,
    conversations,
    directory,
    domain_blocks,
    filters,
    filters_v1,
    instance,
    lists,
    media,
    notifications,
    oauth,
    offers,
    openapi,
    organizations,
    polls,
    profile_images,
    reports,
    search,
    status_actions,
    statuses,
    streaming,
    stubs,
    teams,
    timelines,
)


def routes() -> list[BaseRoute]:
    return [
        *oauth.routes,
        *apps.routes,
        *instance.routes,
        *media.routes,
        *statuses.routes,
        *status_actions.routes,
        *polls.routes,
        *timelines.routes,
        *notifications.routes,
        *conversations.routes,
        *lists.routes,
        *filters.routes,
        *filters_v1.routes,
        *reports.routes,
        *search.routes,
        *accounts.routes,
        *profile_images.routes,
        *account_data.routes,
        *account_notes.routes,
        *streaming.routes,
        *teams.routes,
        *organizations.routes,
        *directory.routes,
        *domain_blocks.routes,
        *communities.routes,  # halls
        *offers.routes,  # job offers and opportunities
        *openapi.routes,
        *stubs.routes,  # last: a real implementation listed above wins over its stub
    ]
