"""The federation routes (door 3), mounted by app.create_app: each module keeps its own `routes` list."""

from __future__ import annotations

from starlette.routing import BaseRoute

from fediverse_biz.federation import actor_endpoints, discovery, group_endpoints, inbox, object_endpoints


def routes() -> list[BaseRoute]:
    return [
        *discovery.routes,
        *actor_endpoints.routes,
        *group_endpoints.routes,  # halls' moderators and outbox
        *inbox.routes,
        *object_endpoints.routes,
    ]
