"""Shape checks for documents peers send us: activities at the inbox, fetched actors and posts.

The rules live in JSON Schema files under `schemas/activitystreams/` at the repository root (their
descriptions and $comments say why each rule exists; `tests/fixtures/federation/` holds the real
payloads they must accept). This module compiles them once, at import, and turns the most specific
violation into a short `SchemaError` such as "activity.actor: required" that the inbox can return in a
400/422 body.

Two compilations of the same files: jsonschema-rs (Rust) answers "valid?" in about 2 µs, and only a
document it refuses goes through the Python `jsonschema` validator, which finds the most specific
violation for the message — and stays the authority: if the two ever disagreed on a refusal, the Python
answer wins. The Python validator alone cost ~650 µs per Create, two thirds of the inbox's work per
delivery (docs/benchmarks.md). tests/activitypub/test_validation_fast_path.py checks the two agree on
every fixture and on generated documents.

A schema check is only the first gate of the inbox (docs/architecture.md, "An incoming activity"): it
says nothing about who may send what, which is for the signature and origin checks.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from importlib.resources.abc import Traversable
from typing import Any, Final

import jsonschema_rs
from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, relevance
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from fediverse_biz.package_data import package_file, schema_files

__all__ = ["MAX_DEPTH", "SCHEMA_DIR", "SchemaError", "validate_activity", "validate_actor", "validate_object"]

SCHEMA_DIR: Final = package_file("schemas", "activitystreams")

# JSON nesting we accept, counted in objects/arrays. Real payloads stay under 10 (Lemmy's
# Announce(Create(Page)) with tags is 6); the cap keeps recursion in the validator, and in every
# handler after it, bounded whatever a peer sends.
MAX_DEPTH: Final = 32

_BRANCHING: Final = ("anyOf", "oneOf")
_TYPE_WORDS: Final = {
    "object": "an object",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean",
    "null": "null",
}


class SchemaError(ValueError):
    """A peer's document does not have a shape we accept. The message names the offending field."""


def validate_activity(doc: object) -> None:
    """Check an activity POSTed to an inbox; raise SchemaError if it is malformed."""
    _check("activity", doc)


def validate_actor(doc: object) -> None:
    """Check a fetched actor document (Person, Organization, Service, Application, Group)."""
    _check("actor", doc)


def validate_object(doc: object) -> None:
    """Check a fetched post object (Note, Article, Page, Question)."""
    _check("object", doc)


def _check(kind: str, doc: object) -> None:
    _check_depth(kind, doc)
    if _FAST[kind].is_valid(doc):
        return
    error = max(_VALIDATORS[kind].iter_errors(doc), key=relevance, default=None)
    if error is not None:
        raise SchemaError(_describe(kind, _most_specific(error)))


def _check_depth(kind: str, doc: object) -> None:
    stack: list[tuple[object, int]] = [(doc, 1)]
    while stack:
        value, depth = stack.pop()
        children: Iterable[object]
        if isinstance(value, Mapping):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise SchemaError(f"{kind}: nested deeper than {MAX_DEPTH} levels")
        stack.extend((child, depth + 1) for child in children)


def _most_specific(error: ValidationError) -> ValidationError:
    # For anyOf/oneOf, the branch the value was meant for is the one whose type it has: a Note missing
    # its id should report the id, not "must be a string". When no branch has the right type, the
    # anyOf itself is the answer ("must be a string or a list").
    while error.context:
        depth = len(error.absolute_path)
        candidates = [sub for sub in error.context if len(sub.absolute_path) > depth or not _is_type_mismatch(sub)]
        if not candidates:
            break
        error = max(candidates, key=lambda sub: (len(sub.absolute_path), sub.validator not in _BRANCHING))
    return error


def _is_type_mismatch(error: ValidationError) -> bool:
    """True if the value itself has none of the types the failing (sub)schema allows."""
    if error.validator == "type":
        return True
    depth = len(error.absolute_path)
    return error.validator in _BRANCHING and all(
        len(sub.absolute_path) == depth and _is_type_mismatch(sub) for sub in error.context or ()
    )


def _describe(kind: str, error: ValidationError) -> str:
    where = kind + "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)
    match error.validator:
        case "required":
            present = error.instance if isinstance(error.instance, Mapping) else {}
            missing = next((name for name in error.validator_value if name not in present), "?")
            return f"{where}.{missing}: required"
        case "type":
            return f"{where}: must be {_one_of_types(error.validator_value)}"
        case "anyOf" | "oneOf" if _is_type_mismatch(error):
            return f"{where}: must be {_one_of_types(_expected_types(error))}"
        case "pattern" if str(error.validator_value).startswith("^https?://"):
            return f"{where}: not an absolute http(s) URI"
        case "pattern":
            return f"{where}: malformed"
        case "maxItems":
            return f"{where}: more than {error.validator_value} items"
        case "minItems":
            return f"{where}: must not be empty"
        case "maxLength":
            return f"{where}: longer than {error.validator_value} characters"
        case "minLength":
            return f"{where}: must not be empty"
        case "enum" | "const" | "contains":
            return f"{where}: not an accepted value"
    return f"{where}: {error.message[:120]}"


def _expected_types(error: ValidationError) -> list[object]:
    if error.validator == "type":
        return [error.validator_value]
    return [name for sub in error.context or () for name in _expected_types(sub)]


def _one_of_types(types: object) -> str:
    names: list[str] = []
    for entry in types if isinstance(types, list) else [types]:
        for name in entry if isinstance(entry, list) else [entry]:
            word = _TYPE_WORDS.get(str(name), str(name))
            if word not in names:
                names.append(word)
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def _compile(schema_dir: Traversable) -> dict[str, Draft202012Validator]:
    if not schema_dir.is_dir():
        raise RuntimeError(
            f"ActivityStreams schemas not found at {schema_dir}: the package was built without its data "
            "files (reinstall fediverse_biz from a wheel or the repository)"
        )
    resources: list[tuple[str, Resource[Any]]] = []
    for path in schema_files(schema_dir):
        contents = json.loads(path.read_text(encoding="utf-8"))
        Draft202012Validator.check_schema(contents)
        resources.append((path.name, Resource.from_contents(contents, default_specification=DRAFT202012)))
    registry: Registry[Any] = Registry().with_resources(resources)
    return {
        kind: Draft202012Validator({"$ref": f"{kind}.schema.json"}, registry=registry)
        for kind in ("activity", "actor", "object")
    }


# Resources need absolute URIs in jsonschema-rs; the files' relative $refs resolve against these.
_BASE_URI: Final = "https://fediverse-biz.invalid/schemas/activitystreams/"


def _compile_fast(schema_dir: Traversable) -> dict[str, jsonschema_rs.Validator]:
    registry = jsonschema_rs.Registry(
        [(_BASE_URI + path.name, json.loads(path.read_text(encoding="utf-8")))
         for path in schema_files(schema_dir)]
    )
    return {
        kind: jsonschema_rs.validator_for({"$ref": f"{_BASE_URI}{kind}.schema.json"}, registry=registry)
        for kind in ("activity", "actor", "object")
    }


_VALIDATORS: Final = _compile(SCHEMA_DIR)
_FAST: Final = _compile_fast(SCHEMA_DIR)
