"""NodeInfo 2.0 and 2.1 documents (http://nodeinfo.diaspora.software, FEP-f1d5). Pure.

We serve both versions: Mastodon links 2.0 only, Misskey and Fedify read 2.1, and steve-bate's test
suite checks every advertised version (steve-bate/activitypub-testsuite,
`activitypub_testsuite/tests/_test_server_meta.py::test_nodeinfo`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

__all__ = ["SOFTWARE_NAME", "VERSIONS", "NodeUsage", "content_type", "nodeinfo_document", "nodeinfo_links"]

# The schemas (2.0 and 2.1) require software.name to match ^[a-z0-9-]+$: no underscore, so the
# package name fediverse_biz is published as "fediverse-biz".
SOFTWARE_NAME: Final = "fediverse-biz"
VERSIONS: Final = ("2.0", "2.1")
SCHEMA_REL: Final = "http://nodeinfo.diaspora.software/ns/schema/{version}"


@dataclass(frozen=True)
class NodeUsage:
    users_total: int
    users_active_month: int
    users_active_halfyear: int
    local_posts: int


def content_type(version: str) -> str:
    """The media type the NodeInfo protocol asks for, naming the schema in `profile`."""
    return f'application/json; profile="{SCHEMA_REL.format(version=version)}#"'


def nodeinfo_links(base_url: str) -> dict[str, Any]:
    """/.well-known/nodeinfo: one link per version we serve."""
    return {"links": [{"rel": SCHEMA_REL.format(version=v), "href": f"{base_url}/nodeinfo/{v}"} for v in VERSIONS]}


def nodeinfo_document(
    version: str,
    *,
    software_version: str,
    usage: NodeUsage,
    open_registrations: bool,
    node_name: str,
    metadata: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A NodeInfo document valid against the schema of `version` (2.0 or 2.1).

    Both schemas forbid extra properties except under `metadata`; 2.1 only adds optional
    software.repository/homepage, which we leave out until the project has a public home.
    """
    if version not in VERSIONS:
        raise ValueError(f"unsupported NodeInfo version {version!r}")
    return {
        "version": version,
        "software": {"name": SOFTWARE_NAME, "version": software_version},
        "protocols": ["activitypub"],
        "services": {"inbound": [], "outbound": []},
        "openRegistrations": open_registrations,
        "usage": {
            "users": {
                "total": usage.users_total,
                "activeMonth": usage.users_active_month,
                "activeHalfyear": usage.users_active_halfyear,
            },
            "localPosts": usage.local_posts,
        },
        "metadata": {"nodeName": node_name, **(metadata or {})},
    }
