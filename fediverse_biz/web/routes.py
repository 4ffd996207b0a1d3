"""The web routes, mounted by app.create_app."""

from __future__ import annotations

from starlette.routing import BaseRoute

from . import media_files, static_files


def routes() -> list[BaseRoute]:
    return [*static_files.routes, *media_files.routes]
