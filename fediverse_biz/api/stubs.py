"""Endpoints clients call routinely for features we do not have yet: each answers an honest empty list.

A 404 here shows error screens in Tusky and Elk (https://github.com/superseriousbusiness/gotosocial/issues/3446,
https://github.com/superseriousbusiness/gotosocial/issues/968); Takahē and GoToSocial ship
the same empty answers. Each stub still demands the scope Mastodon requires, so a client that works
here keeps working when the feature arrives. Whoever builds a feature removes its line below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz.api.auth import optional, require
from fediverse_biz.jsonio import JSONResponse


def empty_list(scope: str | None, *, user: bool = True) -> Callable[[Request], Awaitable[Response]]:
    """A handler answering [] after the auth Mastodon applies: a user token with `scope`, or (scope
    None) anyone, with any token still checked."""

    async def handler(request: Request) -> Response:
        if scope is None:
            await optional(request)
        else:
            await require(request, scope, user=user)
        return JSONResponse([])

    return handler


# (path, required scope or None for public). Scopes from Mastodon's controllers and
# https://docs.joinmastodon.org/methods/.
STUBS: list[tuple[str, str | None]] = [
    ("/api/v1/announcements", "read"),
    ("/api/v1/trends", None),
    ("/api/v1/trends/tags", None),
    ("/api/v1/trends/statuses", None),
    ("/api/v1/trends/links", None),
    ("/api/v2/suggestions", "read:accounts"),
    ("/api/v1/featured_tags", "read:accounts"),
]

routes: list[BaseRoute] = [Route(path, empty_list(scope), methods=["GET"]) for path, scope in STUBS]
