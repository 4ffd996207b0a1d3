"""OAuthError: kept apart from oauth.py so that scopes.py, which oauth.py imports, can raise it too.

Callers name it `oauth.OAuthError`.
"""

from __future__ import annotations


class OAuthError(Exception):
    """An RFC 6749 error: `error` is the code (invalid_grant, invalid_scope, ...), `status` the HTTP status.

    `redirectable` tells the authorize endpoint whether the client's redirect URI is trustworthy enough
    to carry the error back (it is not when client_id or redirect_uri itself is the problem).
    """

    def __init__(self, error: str, description: str, status: int = 400, *, redirectable: bool = True) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.redirectable = redirectable
