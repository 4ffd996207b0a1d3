"""JSON in and out through orjson: the client API's pages, ActivityPub documents and jsonb columns.

A home timeline page is ~40 kB of JSON; the standard library's encoder took a fifth of the server's CPU
for it (docs/benchmarks.md, py-spy profile). orjson does the same work in a small fraction of that and
emits the same compact UTF-8 Starlette's JSONResponse does (no ASCII escaping, no spaces). Non-string
keys are allowed because Python callers sometimes key by id; NaN, which the standard encoder refuses
here, becomes null.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette import responses

_OPTIONS = orjson.OPT_NON_STR_KEYS


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=_OPTIONS).decode()


def dumpb(value: Any) -> bytes:
    return orjson.dumps(value, option=_OPTIONS)


loads = orjson.loads


class JSONResponse(responses.JSONResponse):
    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=_OPTIONS)
