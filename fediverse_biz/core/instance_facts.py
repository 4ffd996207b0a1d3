"""What the instance says about itself: its texts (core/instance_settings.py) and its counts.

Read by the instance documents of the API and by the /about page, through `InstanceFactsCache`: the
counts are several full counts, so each process reads them at most once a minute.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Final

import asyncpg

from fediverse_biz.config import Settings
from fediverse_biz.core import instance_settings

FACTS_TTL_SECONDS: Final = 60.0
# The Mastodon release whose client API we implement. The API's instance documents put it first in
# `version`, and NodeInfo names it as `metadata.upstream`, so that clients which pick their code path by
# software (megalodon, Pachli) treat the server as Mastodon.
COMPATIBLE_MASTODON_VERSION: Final = "4.3.0"


@dataclass(frozen=True)
class InstanceFacts:
    texts: dict[str, Any]
    user_count: int
    status_count: int
    domain_count: int
    active_month: int


async def load(pool: asyncpg.Pool) -> InstanceFacts:
    texts = await instance_settings.load(pool)
    counts = await pool.fetchrow(
        """SELECT
             (SELECT count(*) FROM actors WHERE domain IS NULL AND NOT is_instance_actor
                 AND suspended_at IS NULL AND actor_type IN ('Person', 'Organization')) AS user_count,
             (SELECT count(*) FROM statuses WHERE local AND reblog_of_id IS NULL) AS status_count,
             (SELECT count(DISTINCT domain) FROM actors WHERE domain IS NOT NULL) AS domain_count,
             (SELECT count(*) FROM users u WHERE NOT u.disabled
                 AND (u.last_login_at > now() - interval '30 days'
                      OR EXISTS (SELECT 1 FROM oauth_tokens t WHERE t.user_id = u.id
                                    AND t.last_used_at > now() - interval '30 days'))) AS active_month"""
    )
    return InstanceFacts(texts, **dict(counts))


class InstanceFactsCache:
    """The facts as read at most `ttl` seconds ago, per process."""

    def __init__(self, pool: asyncpg.Pool, *, ttl: float = FACTS_TTL_SECONDS) -> None:
        self._pool = pool
        self._ttl = ttl
        self._cached: tuple[float, InstanceFacts] | None = None

    async def get(self) -> InstanceFacts:
        if self._cached is not None and time.monotonic() - self._cached[0] < self._ttl:
            return self._cached[1]
        facts = await load(self._pool)
        self._cached = (time.monotonic(), facts)
        return facts


def has_privacy_policy(facts: InstanceFacts) -> bool:
    return bool(str(facts.texts.get("privacy_policy") or "").strip())


def describe(settings: Settings, facts: InstanceFacts) -> dict[str, Any]:
    """Title, descriptions, contact, languages, rules and source as the instance documents and /about
    show them, with the defaults for what the admin did not set."""
    texts = facts.texts
    title = str(texts.get("title") or settings.domain)
    description = str(texts.get("description") or "")
    # Mastodon's short description is a setting of its own; ours is the description's first paragraph
    # unless a short one was stored, so one description file fills both.
    short = str(texts.get("short_description") or instance_settings.first_paragraph(description))
    return {
        "title": title,
        "short_description": short or f"{title}: businesses on the fediverse",
        "description": description or short or title,
        "email": str(texts.get("contact_email") or ""),
        "languages": list(texts.get("languages") or ["en"]),
        "rules": instance_settings.rules_of(texts.get("rules")),
        "source_url": str(texts.get("source_url") or f"{settings.base_url}/about"),
    }
