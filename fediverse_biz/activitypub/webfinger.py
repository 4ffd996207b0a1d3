"""WebFinger (RFC 7033) as the fediverse uses it: `acct:` resources, JRD documents, host-meta.

Pure. Both sides live here: what we answer (`build_jrd`, `host_meta_xml`) and how we read a peer's
answer (`parse_acct`, `activitypub_self_link`). Mastodon's rules are the reference
(https://docs.joinmastodon.org/spec/webfinger/; Mastodon's `app/lib/webfinger_resource.rb` and
`app/lib/webfinger.rb`, https://github.com/mastodon/mastodon/blob/main/app/lib/webfinger.rb).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final
from xml.sax.saxutils import quoteattr

__all__ = [
    "AP_LINK_TYPES",
    "JRD_CONTENT_TYPE",
    "AcctResource",
    "InvalidResource",
    "UrlResource",
    "activitypub_self_link",
    "build_jrd",
    "host_meta_xml",
    "parse_acct",
    "parse_resource",
]

JRD_CONTENT_TYPE: Final = "application/jrd+json; charset=utf-8"
XRD_CONTENT_TYPE: Final = "application/xrd+xml; charset=utf-8"
PROFILE_PAGE_REL: Final = "http://webfinger.net/rel/profile-page"
SUBSCRIBE_REL: Final = "http://ostatus.org/schema/1.0/subscribe"
# The self-link types Mastodon accepts (ResolveAccountService#activitypub_ready?).
AP_LINK_TYPES: Final = (
    "application/activity+json",
    'application/ld+json; profile="https://www.w3.org/ns/activitystreams"',
)
MAX_RESOURCE_LENGTH: Final = 2048


class InvalidResource(ValueError):
    """The `resource` parameter is not an `acct:` URI, a bare handle, or an http(s) URL (400)."""


@dataclass(frozen=True)
class AcctResource:
    username: str
    domain: str  # lower-case; may carry a port (development and tests)


@dataclass(frozen=True)
class UrlResource:
    url: str


def parse_acct(text: str) -> AcctResource:
    """`acct:user@domain`, `user@domain` or `@user@domain` -> AcctResource; raises InvalidResource.

    Split at the last `@`: the domain never holds one, and Mastodon's handles never do either.
    """
    value = text.strip()
    if value[:5].lower() == "acct:":
        value = value[5:]
    value = value.removeprefix("@")
    username, sep, domain = value.rpartition("@")
    if not sep or not username or not domain or "@" in username:
        raise InvalidResource(f"not an account handle: {text!r}")
    if any(c.isspace() or not c.isprintable() or c in "/?#" for c in value):
        raise InvalidResource(f"not an account handle: {text!r}")
    return AcctResource(username=username, domain=domain.lower())


def parse_resource(resource: str) -> AcctResource | UrlResource:
    """The WebFinger `resource` parameter. Like Mastodon's WebfingerResource, an http(s) URL names an
    actor by its id or profile page; anything with an `@` is a handle; everything else is a 400."""
    if not resource or len(resource) > MAX_RESOURCE_LENGTH:
        raise InvalidResource("missing or overlong resource")
    if resource[:7].lower() == "http://" or resource[:8].lower() == "https://":
        if any(c.isspace() or not c.isprintable() for c in resource):
            raise InvalidResource(f"malformed URL resource: {resource!r}")
        return UrlResource(resource)
    return parse_acct(resource)


def build_jrd(*, subject: str, actor_uri: str, profile_url: str | None, base_url: str) -> dict[str, Any]:
    """The JRD Mastodon serves (WebfingerSerializer): subject, aliases, self, profile page, subscribe."""
    aliases = [actor_uri] + ([profile_url] if profile_url and profile_url != actor_uri else [])
    links: list[dict[str, str]] = [{"rel": "self", "type": "application/activity+json", "href": actor_uri}]
    if profile_url:
        links.append({"rel": PROFILE_PAGE_REL, "type": "text/html", "href": profile_url})
    links.append({"rel": SUBSCRIBE_REL, "template": f"{base_url}/authorize_interaction?uri={{uri}}"})
    return {"subject": subject, "aliases": aliases, "links": links}


def host_meta_xml(base_url: str) -> str:
    """The XRD pointing at our WebFinger endpoint (RFC 6415), for the few peers that still ask first."""
    template = quoteattr(f"{base_url}/.well-known/webfinger?resource={{uri}}")
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<XRD xmlns="http://docs.oasis-open.org/ns/xri/xrd-1.0">\n'
        f'  <Link rel="lrdd" template={template}/>\n'
        "</XRD>\n"
    )


def activitypub_self_link(jrd: Mapping[str, Any]) -> str | None:
    """The href of the JRD's `self` link with an ActivityPub type, or None (Mastodon: not AP-ready).

    Media-type parameters are compared without spaces, so `application/ld+json;profile="…"` counts.
    """
    links = jrd.get("links")
    if not isinstance(links, list):
        return None
    accepted = {_squash(t) for t in AP_LINK_TYPES}
    for link in links:
        if not isinstance(link, Mapping) or link.get("rel") != "self":
            continue
        href, media_type = link.get("href"), link.get("type")
        if isinstance(href, str) and isinstance(media_type, str) and _squash(media_type) in accepted:
            return href
    return None


def _squash(media_type: str) -> str:
    return "".join(media_type.split()).lower()
