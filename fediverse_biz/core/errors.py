"""The one exception domain operations raise for requests they cannot honour."""

from __future__ import annotations


class DomainError(Exception):
    """`status` is the HTTP status a door should answer with (404 unknown, 403 forbidden, 422 invalid)."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


def not_found() -> DomainError:
    return DomainError("Record not found", 404)


def forbidden(message: str = "This action is not allowed") -> DomainError:
    return DomainError(message, 403)
