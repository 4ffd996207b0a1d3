"""Reading JSON Schema files, shared by the inbox schemas' tests (schemas/activitystreams/) and the Mastodon
entity schemas' (schemas/mastodon/): load a file, build a registry addressed by file name, list the $refs.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from importlib.resources.abc import Traversable
from typing import Any

from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012


def load(path: Traversable) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def registry_of(paths: Iterable[Traversable]) -> Registry[Any]:
    """The schemas at `paths`, addressed by file name as their $refs are."""
    return Registry().with_resources(
        (path.name, Resource.from_contents(load(path), default_specification=DRAFT202012)) for path in paths
    )


def schema_refs(node: object) -> list[str]:
    """Every $ref in a schema document, nested ones included."""
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in schema_refs(value)]
    if isinstance(node, list):
        return [ref for value in node for ref in schema_refs(value)]
    return []
