"""OAuth scopes as Mastodon defines them: the scope tables, which granted scopes allow what, and parsing a
requested scope string.

Scopes are plain strings: top-level (`read`, `write`, `follow`, `push`, `profile`, `admin:read`,
`admin:write`) and granular ones under them (`read:statuses`, `admin:write:accounts`). A token's scopes
are checked with `scope_grants`; tokens, codes and apps are oauth.py's.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from fediverse_biz.core._oauth_errors import OAuthError

# Mastodon's scopes (https://docs.joinmastodon.org/api/oauth-scopes/, Mastodon.py defaults.py _SCOPE_SETS).
READ_SCOPES = tuple(
    f"read:{name}"
    for name in "accounts blocks bookmarks favourites filters follows lists mutes notifications search statuses".split()
)
WRITE_SCOPES = tuple(
    f"write:{name}"
    for name in "accounts blocks bookmarks conversations favourites filters follows lists media "
    "mutes notifications reports statuses".split()
)
_ADMIN_OBJECTS = "accounts reports domain_allows domain_blocks ip_blocks email_domain_blocks canonical_email_blocks"
ADMIN_SCOPES = tuple(f"admin:{mode}:{name}" for mode in ("read", "write") for name in _ADMIN_OBJECTS.split())
TOP_LEVEL_SCOPES = ("read", "write", "follow", "push", "profile", "admin:read", "admin:write")
ALL_SCOPES = frozenset(TOP_LEVEL_SCOPES + READ_SCOPES + WRITE_SCOPES + ADMIN_SCOPES)
# `follow` is deprecated since Mastodon 3.5 but every client still asks for it; it means these.
FOLLOW_SCOPES = frozenset({"read:follows", "write:follows", "read:blocks", "write:blocks", "read:mutes", "write:mutes"})


def scope_grants(granted: Iterable[str], wanted: str) -> bool:
    """Whether tokens with `granted` scopes may do what `wanted` allows (Mastodon's scope hierarchy)."""
    granted = set(granted)
    if wanted in granted:
        return True
    if wanted == "profile":  # verify_credentials accepts profile or read:accounts
        return scope_grants(granted, "read:accounts")
    if wanted in FOLLOW_SCOPES and "follow" in granted:
        return True
    parent = wanted.rsplit(":", 1)[0] if wanted.count(":") >= 1 else None
    return parent is not None and parent != wanted and parent in granted and parent != "admin"


def parse_scopes(text: str | None, *, default: str = "read") -> tuple[str, ...]:
    """Split a space-separated scope string (deduplicated, order kept); unknown scopes raise invalid_scope."""
    names = list(dict.fromkeys((text or "").split())) or default.split()
    unknown = [name for name in names if name not in ALL_SCOPES]
    if unknown:
        raise OAuthError("invalid_scope", f"Unknown scope: {' '.join(unknown)}")
    return tuple(names)


def ensure_allowed(registered: Sequence[str], requested: Sequence[str]) -> None:
    """Raise invalid_scope unless an app registered with `registered` scopes may ask for `requested`."""
    # Mastodon: the requested scope must be a subset of the app's registered scopes. A granular scope
    # whose parent was registered (read:statuses for an app with read) is within that set too.
    outside = [s for s in requested if not scope_grants(registered, s)]
    if outside:
        raise OAuthError("invalid_scope", f"The application may not request: {' '.join(outside)}")
