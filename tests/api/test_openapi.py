"""The OpenAPI description (fediverse_biz/api/openapi.py): valid OpenAPI 3.1, complete, current, served.

Completeness is checked against the app's own route table, so a route added without a description (or
a description left behind by a removed route) fails here rather than rotting quietly.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import schemathesis
from jsonschema import Draft202012Validator
from starlette.routing import Route

from fediverse_biz.api.openapi import SCHEMA_DIR, SNAPSHOT, SNAPSHOT_BASE_URL, document
from fediverse_biz.app import all_routes
from fediverse_biz.config import Settings
from fediverse_biz.package_data import schema_files

METHODS = ("get", "put", "post", "delete", "patch")
# Outside /api/: the token endpoints every client calls are described; the HTML consent page is not.
DESCRIBED_OUTSIDE_API = {"/oauth/token", "/oauth/revoke"}


def _refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _refs(item)


def _resolve(doc: dict[str, Any], pointer: str) -> Any:
    assert pointer.startswith("#/"), f"non-local $ref {pointer}"
    node: Any = doc
    for part in pointer[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_is_valid_openapi_3_1() -> None:
    doc = document()
    # the OpenAPI 3.1 meta-schema, as schemathesis (jsonschema-rs) applies it
    schemathesis.openapi.from_dict(doc).validate()
    assert doc["openapi"] == "3.1.0"
    # every $ref resolves inside the document
    for pointer in set(_refs(doc)):
        assert _resolve(doc, pointer) is not None, pointer
    # every component is a sound JSON Schema 2020-12 (OpenAPI 3.1's dialect)
    for schema in doc["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)


def test_every_entity_schema_is_bundled() -> None:
    components = document()["components"]["schemas"]
    for path in schema_files(SCHEMA_DIR):
        entity = json.loads(path.read_text(encoding="utf-8"))
        if path.name != "defs.schema.json":
            assert entity["title"] in components, path.name
        for name in entity.get("$defs", {}):
            owner = "defs" if path.name == "defs.schema.json" else entity["title"]
            assert f"{owner}.{name}" in components


def test_every_api_route_is_described_and_nothing_else() -> None:
    # given the app's routes (HTTP only: the streaming WebSocket is not an OpenAPI operation)
    served = {
        (route.path, method.lower())
        for route in all_routes()
        if isinstance(route, Route) and (route.path.startswith("/api/") or route.path in DESCRIBED_OUTSIDE_API)
        for method in route.methods or ()
        if method != "HEAD"
    }
    # then the document describes exactly those operations
    described = {(path, method) for path, item in document()["paths"].items() for method in item if method in METHODS}
    assert sorted(served - described) == [], "routes without a description in api/_openapi_operations.py"
    assert sorted(described - served) == [], "descriptions of routes the app does not have"


def test_operations_declare_security_errors_and_rate_limit_headers() -> None:
    doc = document()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            assert "security" in op, where
            assert {"200", "429", "default"} <= set(op["responses"]), where
            assert "X-RateLimit-Remaining" in op["responses"]["200"]["headers"], where
            schemes = {name for requirement in op["security"] for name in requirement}
            assert schemes <= {"OAuth2"}, where


def test_the_snapshot_in_schemas_is_current() -> None:
    on_disk = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    assert on_disk == document(SNAPSHOT_BASE_URL), (
        "schemas/openapi.json is stale: python -m fediverse_biz.api.openapi > schemas/openapi.json"
    )


async def test_it_is_served_with_this_instances_urls(client: httpx.AsyncClient, settings: Settings) -> None:
    response = await client.get("/api/openapi.json")
    assert response.status_code == 200
    body = response.json()
    assert body["servers"] == [{"url": settings.base_url}]
    flows = body["components"]["securitySchemes"]["OAuth2"]["flows"]
    assert flows["authorizationCode"]["tokenUrl"] == f"{settings.base_url}/oauth/token"
    assert body["paths"] == document()["paths"]
