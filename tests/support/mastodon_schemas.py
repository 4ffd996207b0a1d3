"""Check our client-API JSON against schemas/mastodon/: `assert_matches("status", body)`.

The schemas encode what Mastodon clients break without (string ids, millisecond UTC datetimes, non-null
image URLs, required fields); see the `description`s in schemas/mastodon/*.schema.json.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError, best_match
from referencing import Registry

from tests.support.json_schemas import registry_of

SCHEMA_DIR = Path(__file__).resolve().parents[2] / "schemas" / "mastodon"
MAX_REPORTED = 10


def assert_matches(entity_name: str, data: object) -> None:
    """Raise AssertionError listing where `data` breaks schemas/mastodon/<entity_name>.schema.json."""
    errors = [leaf for error in validator(entity_name).iter_errors(data) for leaf in _leaves(error)]
    if not errors:
        return
    errors.sort(key=lambda error: [str(part) for part in error.absolute_path])
    lines = [f"{entity_name}{_where(error)}: {_message(error)}" for error in errors[:MAX_REPORTED]]
    if len(errors) > MAX_REPORTED:
        lines.append(f"... and {len(errors) - MAX_REPORTED} more")
    raise AssertionError("does not match the Mastodon schema:\n  " + "\n  ".join(lines))


@cache
def validator(entity_name: str) -> Draft202012Validator:
    if not (SCHEMA_DIR / f"{entity_name}.schema.json").is_file():
        raise LookupError(f"no schema for {entity_name!r} in {SCHEMA_DIR}")
    return Draft202012Validator({"$ref": f"{entity_name}.schema.json"}, registry=registry())


@cache
def registry() -> Registry[Any]:
    """Every schema under schemas/mastodon/, addressed by file name as the $refs are."""
    return registry_of(sorted(SCHEMA_DIR.glob("*.schema.json")))


def _where(error: ValidationError) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in error.absolute_path)


def _leaves(error: ValidationError) -> list[ValidationError]:
    """The errors that explain `error`: for anyOf/oneOf (nullable fields, Status.reblog) those of the
    branch the value was meant for, so a broken reblog lists each broken field of the inner status."""
    if error.validator not in ("anyOf", "oneOf") or not error.context:
        return [error]
    best = best_match([error])
    if best is None or best is error:
        return [error]
    while best.parent is not None and best.parent is not error:
        best = best.parent
    branch = best.relative_schema_path[0]
    return [leaf for sub in error.context if sub.relative_schema_path[0] == branch for leaf in _leaves(sub)]


def _message(error: ValidationError) -> str:
    if error.validator in ("anyOf", "oneOf") and error.context:
        expected = sorted({str(sub.validator_value) for sub in error.context if sub.validator == "type"})
        if len(expected) == len(error.context):
            return f"{error.instance!r} is not of type {' or '.join(expected)}"
    return error.message
