"""Where local things live. One place, so routes and documents never disagree.

Actors are `https://{domain}/users/{username}` (people and organizations), `https://{domain}/c/{name}`
(communities) and `https://{domain}/actor` (the instance actor), with one handle namespace per domain.
A status is `{actor}/statuses/{id}`; its public page is `https://{domain}/@{username}/{id}`.
"""

from __future__ import annotations

from dataclasses import dataclass

PRIVACY_POLICY_PATH = "/privacy-policy"  # Mastodon's path for the instance's privacy policy page


@dataclass(frozen=True)
class LocalUrls:
    base: str  # "https://social.example.com", no trailing slash

    # ---- actors ---------------------------------------------------------------------------------
    def actor(self, username: str, actor_type: str = "Person") -> str:
        if actor_type == "Group":
            return f"{self.base}/c/{username}"
        return f"{self.base}/users/{username}"

    def instance_actor(self) -> str:
        return f"{self.base}/actor"

    def key_id(self, actor_uri: str) -> str:
        return f"{actor_uri}#main-key"

    def profile_page(self, username: str, actor_type: str = "Person") -> str:
        if actor_type == "Group":
            return f"{self.base}/c/{username}"
        return f"{self.base}/@{username}"

    def shared_inbox(self) -> str:
        return f"{self.base}/inbox"

    # ---- statuses -------------------------------------------------------------------------------
    def status(self, actor_uri: str, status_id: int) -> str:
        return f"{actor_uri}/statuses/{status_id}"

    def status_page(self, username: str, status_id: int) -> str:
        return f"{self.base}/@{username}/{status_id}"

    def tag(self, name: str) -> str:
        return f"{self.base}/tags/{name.lower()}"

    def media(self, path: str) -> str:
        return f"{self.base}/media/{path}"

    def static(self, path: str) -> str:
        return f"{self.base}/static/{path}"
