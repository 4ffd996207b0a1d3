"""The api routes, mounted by app.create_app: one `routes` list per resource module, concatenated."""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import (
    accounts,
    apps,
    instance,
    media,
    notifications,
    oauth,
    search,
    status_actions,
    statuses,
    streaming,
    stubs,
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
        *timelines.routes,
        *notifications.routes,
        *search.routes,
        *accounts.routes,
        *streaming.routes,
        *stubs.routes,  # last: a real implementation listed above wins over its stub
    ]
