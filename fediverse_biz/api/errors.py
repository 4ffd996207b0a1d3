"""Client API errors: Mastodon's Error entity, `{"error": "...", "error_description"?: "..."}`.

ApiError is an HTTPException, so the application's generic HTTPException handler already renders
`{"error": detail}` with the right status and headers. `api_error_handler` adds `error_description`
(toot shows it in preference to `error`, toot/http.py _get_error_message); the app registers it
through `exception_handlers` below.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from fediverse_biz.core.errors import DomainError
from fediverse_biz.jsonio import JSONResponse

NOT_FOUND = "Record not found"  # Mastodon's 404 message


class ApiError(HTTPException):
    """Raise from a handler: `raise ApiError(422, "Validation failed: ...")`."""

    def __init__(
        self,
        status: int,
        error: str,
        description: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(status_code=status, detail=error, headers=headers)
        self.error = error
        self.description = description


@contextmanager
def domain_errors() -> Iterator[None]:
    """Turn core's DomainError (404 unknown, 403 forbidden, 422 invalid) into the client API's Error."""
    try:
        yield
    except DomainError as exc:
        raise ApiError(exc.status, str(exc)) from None


def error_body(error: str, description: str | None = None) -> dict[str, str]:
    body = {"error": error}
    if description:
        body["error_description"] = description
    return body


async def api_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return JSONResponse(error_body(exc.error, exc.description), status_code=exc.status_code, headers=exc.headers)


exception_handlers: dict[type[Exception], Callable[[Request, Exception], Awaitable[Response]]] = {
    ApiError: api_error_handler,
}
