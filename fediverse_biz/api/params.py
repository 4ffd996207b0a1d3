"""Request parameters in every encoding Mastodon clients use, merged into one Params object.

Clients send JSON (toot, Elk, Ice Cubes), form-urlencoded with Rails-style brackets (Mastodon.py:
`media_ids[]=5&media_ids[]=6`, booleans as '1'/'0'), multipart (media, update_credentials) and empty
POSTs without a Content-Type (favourite, follow). Query parameters are merged in; the body wins
(Rails merges the same way; Takahē's get_json_and_formdata too). Unknown fields are simply ignored:
Mastodon.py even leaks `oauth_info=...` fields into its token POST (its `log_in` passes `locals()` on as
parameters).

Text: every string in the query, a form or a JSON body (keys included) must pass `storable`'s rule —
valid Unicode, no NUL — or the request is refused with 422 naming the field, whichever endpoint reads it
and whether or not it reads that field. Query strings and urlencoded bodies are decoded strictly as UTF-8
(storable.form_pairs). A body that is not JSON at all (invalid UTF-8, `NaN`, a number beyond a double,
nesting too deep to parse) is a 400, as at the inbox.

Files: multipart bodies keep Starlette UploadFile objects, valid for the whole request. Their
spooled temporary files are closed when the request object goes away (after the response is sent),
or earlier with `await params.close()` / `async with params:`; an unclosed one would warn.
"""

from __future__ import annotations

import json
import math
import re
import weakref
from collections.abc import Iterable
from types import TracebackType
from typing import Any, overload

from starlette.datastructures import FormData, UploadFile
from starlette.requests import HTTPConnection, Request

from fediverse_biz import storable
from fediverse_biz.api.errors import NOT_FOUND, ApiError
from fediverse_biz.core.ids import parse_id

_TRUE = frozenset({"1", "true", "t", "on", "yes", "y"})
_FALSE = frozenset({"0", "false", "f", "off", "no", "n"})
_SEGMENTS_RE = re.compile(r"\[([^\[\]]*)\]")
MAX_KEY_DEPTH = 5  # fields_attributes[0][name] is 3 deep; anything much deeper is abuse


class Params:
    """`raw` holds the merged, nested values: strings, UploadFiles, lists and dicts (JSON or Rails brackets)."""

    def __init__(self, raw: dict[str, Any], repeated: dict[str, list[Any]], form: FormData | None = None) -> None:
        self.raw = raw
        self._repeated = repeated  # plain keys sent more than once in a form or query (`id=1&id=2`)
        self._form = form

    def __contains__(self, name: str) -> bool:
        return name in self.raw

    def get(self, name: str) -> str | None:
        """A scalar as text (JSON numbers and booleans included); None when absent, null or not a scalar."""
        return _text(self.raw.get(name))

    def get_bool(self, name: str, default: bool = False) -> bool:
        value = self.raw.get(name)
        if isinstance(value, bool):
            return value
        text = _text(value)
        if text is None or text.strip() == "":
            return default
        text = text.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ApiError(422, f"Validation failed: {name} must be true or false")

    @overload
    def get_int(self, name: str, default: int, min: int | None = None, max: int | None = None) -> int: ...
    @overload
    def get_int(
        self, name: str, default: None = None, min: int | None = None, max: int | None = None
    ) -> int | None: ...
    def get_int(
        self, name: str, default: int | None = None, min: int | None = None, max: int | None = None
    ) -> int | None:
        text = self.get(name)
        if text is None or text.strip() == "":
            return default
        try:
            number = int(text.strip())
        except ValueError:
            raise ApiError(422, f"Validation failed: {name} must be a whole number") from None
        if (min is not None and number < min) or (max is not None and number > max):
            raise ApiError(422, f"Validation failed: {name} must be between {min} and {max}")
        return number

    def get_list(self, name: str) -> list[str]:
        """`name[]=a&name[]=b`, `name=a&name=b`, a JSON array, Rails `name[0]=a&name[1]=b`, or one value."""
        if name in self._repeated:
            values: Iterable[Any] = self._repeated[name]
        else:
            value = self.raw.get(name)
            if value is None:
                return []
            if isinstance(value, list):
                values = value
            elif isinstance(value, dict):
                values = _indexed_values(value)
            else:
                values = [value]
        return [text for text in (_text(v) for v in values) if text is not None]

    def get_dict_list(self, name: str) -> list[dict[str, Any]]:
        """`name[0][key]=v` (form), `[{...}]` or `{"0": {...}}` (JSON) -> a list of dicts, in index order."""
        value = self.raw.get(name)
        items = _indexed_values(value) if isinstance(value, dict) else value if isinstance(value, list) else []
        return [item for item in items if isinstance(item, dict)]

    def file(self, name: str) -> UploadFile | None:
        value = self.raw.get(name)
        return value if isinstance(value, UploadFile) else None

    async def close(self) -> None:
        if self._form is not None:
            await self._form.close()

    async def __aenter__(self) -> Params:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()


async def read_params(request: Request) -> Params:
    """Parse the body (JSON object, urlencoded, multipart or nothing) and merge it over the query."""
    try:
        return await _read_params(request)
    except storable.UnstorableText as exc:
        raise ApiError(422, f"Validation failed: {exc}") from None


async def _read_params(request: Request) -> Params:
    raw, repeated = nest(storable.form_pairs(request.scope.get("query_string", b"")))
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    form: FormData | None = None
    body_raw: dict[str, Any] = {}
    body_repeated: dict[str, list[Any]] = {}
    if content_type == "application/json" or content_type.endswith("+json"):
        body = await request.body()
        if body.strip():
            decoded = _parse_json(body)
            if not isinstance(decoded, dict):
                raise ApiError(422, "The JSON body must be an object")
            storable.check_tree(decoded)
            body_raw = decoded
    elif content_type == "application/x-www-form-urlencoded":
        body_raw, body_repeated = nest(storable.form_pairs(await request.body()))
    elif content_type == "multipart/form-data":
        form = await request.form()
        # Starlette leaves closing the form to the caller; tie it to the request's lifetime so that no
        # handler can forget it (SpooledTemporaryFile warns when collected open).
        weakref.finalize(request, _close_uploads, form)
        _check_multipart(form)
        body_raw, body_repeated = nest(form.multi_items())
    for key in body_raw:
        repeated.pop(key, None)  # the body's value replaces the query's entirely
    raw.update(body_raw)
    repeated.update(body_repeated)
    return Params(raw, repeated, form)


def query_params(connection: HTTPConnection) -> Params:
    """The query string alone, for GET handlers and WebSocket connections (no body to read)."""
    try:
        raw, repeated = nest(storable.form_pairs(connection.scope.get("query_string", b"")))
    except storable.UnstorableText as exc:
        raise ApiError(422, f"Validation failed: {exc}") from None
    return Params(raw, repeated)


def _parse_json(body: bytes) -> Any:
    """Standard JSON in UTF-8 (a leading BOM tolerated); what the inbox's parser refuses is refused here too."""
    try:
        return json.loads(body.decode("utf-8-sig"), parse_constant=_refuse_constant, parse_float=_finite_float)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise ApiError(400, "The request body is not valid JSON") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # 1e400: no double holds it, and jsonb would refuse the infinity
        raise ValueError(f"{text[:20]} is out of range")
    return value


def _check_multipart(form: FormData) -> None:
    for name, value in form.multi_items():
        storable.check("a parameter name", name)
        if isinstance(value, UploadFile):
            storable.check(f"{name} (its file name)", value.filename or "")
        else:
            storable.check(name, value)


def path_id(request: Request, name: str = "id") -> int:
    """The record id in the path (core.ids); anything else names no record: 404, as Mastodon's find."""
    value = parse_id(request.path_params.get(name))
    if value is None:
        raise ApiError(404, NOT_FOUND)
    return value


def nest(items: Iterable[tuple[str, Any]]) -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Rails-style parameter nesting: `a[]` appends to a list, `a[k]` fills a dict, `a` is a scalar
    (the last one wins; all of them are kept in the second result when a plain key repeats)."""
    root: dict[str, Any] = {}
    seen: dict[str, list[Any]] = {}
    for key, value in items:
        path = _key_path(key)
        if path is None:
            continue
        if len(path) == 1:
            seen.setdefault(key, []).append(value)
        _insert(root, path, value)
    return root, {key: values for key, values in seen.items() if len(values) > 1}


def _key_path(key: str) -> list[str] | None:
    start = key.find("[")
    if start <= 0:
        return [key] if key else None
    segments = _SEGMENTS_RE.findall(key[start:])
    if "".join(f"[{s}]" for s in segments) != key[start:]:
        return [key]  # not bracket syntax after all (`a[b`): keep the key as it is
    if len(segments) > MAX_KEY_DEPTH:
        return None
    return [key[:start], *segments]


def _insert(container: dict[str, Any], path: list[str], value: Any) -> None:
    key, rest = path[0], path[1:]
    if not rest:
        container[key] = value
        return
    if rest[0] == "":
        items = container.get(key)
        if not isinstance(items, list):
            items = container[key] = []
        if len(rest) == 1:
            items.append(value)
            return
        # `a[][x]=1&a[][y]=2&a[][x]=3`: Rails starts a new dict when the key is already in the last one
        if items and isinstance(items[-1], dict) and rest[1] not in items[-1]:
            target = items[-1]
        else:
            target = {}
            items.append(target)
        _insert(target, rest[1:], value)
        return
    child = container.get(key)
    if not isinstance(child, dict):
        child = container[key] = {}
    _insert(child, rest, value)


def _close_uploads(form: FormData) -> None:
    for _, value in form.multi_items():
        if isinstance(value, UploadFile):
            value.file.close()


def _indexed_values(mapping: dict[str, Any]) -> list[Any]:
    """Values of a Rails "array as hash" (`{"0": .., "1": ..}`) in numeric order; other keys follow."""
    keys = sorted(mapping, key=lambda k: (0, int(k), "") if _is_index(k) else (1, 0, k))
    return [mapping[k] for k in keys]


def _is_index(key: str) -> bool:
    """ASCII digits of a sane length: int() refuses '²' and numbers of thousands of digits (a 500)."""
    return key.isascii() and key.isdigit() and len(key) <= 18


def _text(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if not isinstance(value, str):
        return None
    return value  # storable already: the readers above checked every string
