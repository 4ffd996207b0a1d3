"""The OpenAPI 3.1 description of the client API, served at GET /api/openapi.json.

Built, not written: the operations come from the table in `_openapi_operations.py`, the response
entities from the JSON Schemas in schemas/mastodon/ (bundled into `components.schemas`, their `$ref`s
rewritten to point there). `schemas/openapi.json` is this document as built, for tools that read files;
tests/api/test_openapi.py checks the file is current, that every /api/ route of the app is described,
and schemathesis holds the live server to it (tests/reliability/test_schemathesis.py).

    python -m fediverse_biz.api.openapi > schemas/openapi.json      # after changing either source
"""

from __future__ import annotations

import json
import sys
from functools import cache
from importlib.resources.abc import Traversable
from typing import Any, Final

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from fediverse_biz import __version__
from fediverse_biz.api._openapi_communities import COMMUNITY_OPERATIONS
from fediverse_biz.api._openapi_offers import OFFER_OPERATIONS
from fediverse_biz.api._openapi_operations import OPERATIONS, Operation
from fediverse_biz.api._openapi_personal import PERSONAL_OPERATIONS
from fediverse_biz.api._openapi_social import SOCIAL_OPERATIONS
from fediverse_biz.api._openapi_teams import TEAM_OPERATIONS
from fediverse_biz.core.oauth import ALL_SCOPES
from fediverse_biz.jsonio import JSONResponse
from fediverse_biz.package_data import package_file, schema_files
from fediverse_biz.services import services

__all__ = ["SCHEMA_DIR", "SNAPSHOT", "SNAPSHOT_BASE_URL", "document", "routes"]

SCHEMA_DIR: Final = package_file("schemas", "mastodon")
SNAPSHOT: Final = package_file("schemas", "openapi.json")
SNAPSHOT_BASE_URL: Final = "http://localhost:8000"  # Settings' default domain, for the file in schemas/
_COMPONENTS = "#/components/schemas/"
_RATE_LIMIT_HEADERS: Final = {
    "X-RateLimit-Limit": {"description": "Requests allowed in the window", "schema": {"type": "string"}},
    "X-RateLimit-Remaining": {"description": "Requests left in the window", "schema": {"type": "string"}},
    "X-RateLimit-Reset": {"description": "When the window ends (ISO 8601, UTC)", "schema": {"type": "string"}},
}
_DESCRIPTION = """The Mastodon-compatible client API of fediverse_biz.

Parameters are accepted as a JSON body, a form (urlencoded or multipart, Rails-style brackets such as
`media_ids[]` included) or a query string, merged, the body winning. Ids are strings of digits.
Lists page with `max_id`, `since_id`, `min_id` and `limit`; the next and previous pages are in the `Link`
header. Every response of /api/ carries the X-RateLimit headers; over a limit the answer is 429 with
`Retry-After`. The streaming WebSocket (`GET /api/v1/streaming` with an Upgrade) is not described here;
its server-sent-event twins are."""


# ---- bundling the entity schemas -----------------------------------------------------------------------
def _load(path: Traversable) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return doc


def _component_names(schema_dir: Traversable) -> dict[str, str]:
    """file name -> component name: an entity's title (Status); `defs` for the shared definitions."""
    names = {}
    for path in schema_files(schema_dir):
        stem = path.name.removesuffix(".schema.json")
        names[path.name] = "defs" if stem == "defs" else str(_load(path)["title"])
    return names


def _rewrite(node: Any, file_name: str, names: dict[str, str]) -> Any:
    """A copy of a schema with every `$ref` pointing into components.schemas and no `$schema`."""
    if isinstance(node, list):
        return [_rewrite(item, file_name, names) for item in node]
    if not isinstance(node, dict):
        return node
    result: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$defs"):
            continue
        if key == "$ref" and isinstance(value, str):
            target, _, pointer = value.partition("#")
            owner = names[target] if target else names[file_name]
            if pointer.startswith("/$defs/"):
                result[key] = f"{_COMPONENTS}{owner}.{pointer.removeprefix('/$defs/')}"
            elif pointer in ("", "/"):
                result[key] = f"{_COMPONENTS}{owner}"
            else:
                raise ValueError(f"{file_name}: cannot bundle $ref {value!r}")
            continue
        result[key] = _rewrite(value, file_name, names)
    return result


def bundled_schemas(schema_dir: Traversable = SCHEMA_DIR) -> dict[str, Any]:
    """components.schemas: every entity under its title, each `$defs` entry as `<owner>.<name>`."""
    names = _component_names(schema_dir)
    components: dict[str, Any] = {}
    for file_name, owner in names.items():
        schema = _load(schema_dir / file_name)
        for def_name, definition in schema.get("$defs", {}).items():
            components[f"{owner}.{def_name}"] = _rewrite(definition, file_name, names)
        if owner != "defs":
            components[owner] = _rewrite(schema, file_name, names)
    return dict(sorted(components.items()))


# ---- operations ----------------------------------------------------------------------------------------
def _security(op: Operation) -> list[dict[str, list[str]]]:
    scopes = [op.scope] if op.scope else []
    if op.auth == "none":
        return []
    if op.auth == "optional":
        return [{}, {"OAuth2": scopes}]
    return [{"OAuth2": scopes}]


def _operation(op: Operation) -> dict[str, Any]:
    headers: dict[str, Any] = {name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_LIMIT_HEADERS}
    if op.paginated:
        headers["Link"] = {"$ref": "#/components/headers/Link"}
    success: dict[str, Any] = {"description": op.summary, "headers": headers}
    if op.response_type == "application/json":
        success["content"] = {"application/json": {"schema": op.response}}
    else:
        success["content"] = {op.response_type: {"schema": op.response}}
    result: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": _security(op),
        "responses": {
            "200": success,
            "429": {"$ref": "#/components/responses/TooManyRequests"},
            "default": {"$ref": "#/components/responses/Error"},
        },
    }
    if op.description:
        result["description"] = op.description
    parameters = [*op.path_parameters(), *op.query_parameters(), *op.header_parameters()]
    if parameters:
        result["parameters"] = parameters
    body = op.request_body()
    if body is not None:
        result["requestBody"] = body
    return result


def _paths(operations: tuple[Operation, ...]) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        for path in (op.path, *op.aliases):
            for method in (op.method, *op.aliases_methods):
                item = paths.setdefault(path, {})
                if method.lower() in item:
                    raise ValueError(f"{method} {path} is described twice")
                described = _operation(op)
                if (path, method) != (op.path, op.method):
                    described["operationId"] = f"{op.operation_id}_{method.lower()}" + (
                        "_alias" if path != op.path else ""
                    )
                item[method.lower()] = described
    return dict(sorted(paths.items()))


def _components(base_url: str) -> dict[str, Any]:
    error = {"application/json": {"schema": {"$ref": f"{_COMPONENTS}Error"}}}
    return {
        "schemas": bundled_schemas(),
        "responses": {
            "Error": {"description": "An error, in Mastodon's Error shape", "content": error},
            "TooManyRequests": {
                "description": "Over a rate limit (docs/reliability.md); retry after Retry-After seconds",
                "headers": {
                    "Retry-After": {"description": "Seconds to wait", "schema": {"type": "string"}},
                    **{name: {"$ref": f"#/components/headers/{name}"} for name in _RATE_LIMIT_HEADERS},
                },
                "content": error,
            },
        },
        "headers": {
            **_RATE_LIMIT_HEADERS,
            "Link": {
                "description": 'Pages: <...?max_id=..>; rel="next", <...?min_id=..>; rel="prev"',
                "schema": {"type": "string"},
            },
        },
        "securitySchemes": {
            "OAuth2": {
                "type": "oauth2",
                "description": "Bearer tokens from /oauth/token (also accepted as ?access_token=).",
                "flows": {
                    "authorizationCode": {
                        "authorizationUrl": f"{base_url}/oauth/authorize",
                        "tokenUrl": f"{base_url}/oauth/token",
                        "scopes": _scopes(),
                    },
                    "clientCredentials": {"tokenUrl": f"{base_url}/oauth/token", "scopes": _scopes()},
                    "password": {"tokenUrl": f"{base_url}/oauth/token", "scopes": _scopes()},
                },
            }
        },
    }


def _scopes() -> dict[str, str]:
    return {scope: scope for scope in sorted(ALL_SCOPES)}


@cache
def document(base_url: str = SNAPSHOT_BASE_URL) -> dict[str, Any]:
    """The OpenAPI document of the instance at `base_url` (its server and OAuth URLs, which OpenAPI
    wants absolute); the snapshot in schemas/ names the development default."""
    doc: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "fediverse_biz client API",
            "version": __version__,
            "description": _DESCRIPTION,
            "license": {"name": "AGPL-3.0-or-later", "identifier": "AGPL-3.0-or-later"},
        },
        "servers": [{"url": base_url}],
        # Teams (api/_openapi_teams.py); halls (api/_openapi_communities.py), job offers and
        # opportunities (api/_openapi_offers.py); lists, filters (api/_openapi_social.py); reports, domain
        # blocks, notes, profile images (api/_openapi_personal.py)
        "paths": _paths((*OPERATIONS, *TEAM_OPERATIONS, *COMMUNITY_OPERATIONS, *OFFER_OPERATIONS, *SOCIAL_OPERATIONS,
                        *PERSONAL_OPERATIONS)),
        "components": _components(base_url),
    }
    return doc


async def openapi_json(request: Request) -> Response:
    return JSONResponse(document(services(request).settings.base_url))


routes: list[BaseRoute] = [Route("/api/openapi.json", openapi_json, methods=["GET"])]


if __name__ == "__main__":
    json.dump(document(), sys.stdout, indent=1, ensure_ascii=False)
    sys.stdout.write("\n")
