"""What a page reads from its query string or its form: one reader, one validation.

Every page filter (`/directory?q=`, the boards', `max_id` of paged pages, `next`, `uri`) is read through
`page_query` and every page form through `page_form`. Both apply fediverse_biz/storable.py's rule — the
inbox's and the client API's — to every name and value: valid UTF-8 (decoded strictly, where Starlette
would substitute U+FFFD), no NUL. A value that fails raises BadPageInput naming the field. A page without
a form lets it propagate, and the app answers with the 400 page (rendering.bad_input_page, registered in
app.py); a page with a form catches it and shows the form again with the message beside the field,
keeping the values that passed (`BadPageInput.values`). Other control characters are text: each field's
own cleaner decides what to keep of them.

Readers get the last value of a repeated name (`get`) or all of them (`getlist`), as from Starlette's
QueryParams and FormData; files in a multipart form are not page input and are skipped.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from starlette.datastructures import UploadFile
from starlette.requests import Request

from fediverse_biz import storable


@dataclass(frozen=True)
class PageInput:
    """The (name, value) pairs of a query string or form, in order, every one of them storable text."""

    pairs: tuple[tuple[str, str], ...] = ()
    _last: dict[str, str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_last", dict(self.pairs))

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._last.get(name, default)

    def getlist(self, name: str) -> list[str]:
        return [value for key, value in self.pairs if key == name]

    def __contains__(self, name: object) -> bool:
        return name in self._last


class BadPageInput(Exception):
    """A query or form value the rule refuses; `values` holds the fields that passed (last of each)."""

    def __init__(self, problem: storable.UnstorableText, values: Iterable[tuple[str, str]] = ()) -> None:
        super().__init__(str(problem))
        self.field = problem.field
        self.reason = problem.reason  # the message without the field's name, for a form that words it itself
        self.values = dict(values)


def page_query(request: Request) -> PageInput:
    """The query string; BadPageInput when a name or value is not valid, storable UTF-8."""
    return _checked(storable.split_form(request.scope.get("query_string", b"")))


async def page_form(request: Request, files: dict[str, tuple[str, bytes]] | None = None) -> PageInput:
    """The submitted form (urlencoded or multipart); BadPageInput as page_query. A page that takes files
    passes `files`, filled with {field: (file name, bytes)} of each non-empty upload: the uploads are
    closed when the form is (body size is capped by the middleware, so they fit in memory)."""
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == "application/x-www-form-urlencoded":
        return _checked(storable.split_form(await request.body()))
    if content_type != "multipart/form-data":
        return PageInput()  # no form sent: every field is missing, as with Starlette's empty FormData
    async with request.form() as form:
        pairs: list[tuple[str, str]] = []
        refused: storable.UnstorableText | None = None
        for name, value in form.multi_items():
            if isinstance(value, UploadFile):
                if files is not None and value.filename:
                    files[name] = (value.filename, await value.read())
                continue
            try:
                pairs.append((storable.check("a field name", name), storable.check(name, value)))
            except storable.UnstorableText as exc:
                refused = refused or exc
        return _checked((pairs, refused))


def _checked(result: tuple[list[tuple[str, str]], storable.UnstorableText | None]) -> PageInput:
    pairs, refused = result
    if refused is not None:
        raise BadPageInput(refused, pairs)
    return PageInput(tuple(pairs))
