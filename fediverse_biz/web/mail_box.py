"""The "updates by e-mail" box of an organization's booth (docs/mail.md).

Shown only when the instance sends mail (FEDIVERSE_BIZ_SMTP_URL) and only on Organization booths. The
form has no session: its CSRF token is signed over the organization's name (core.oauth.sign_form_token)
and lives a day, as a booth page may stay open that long. The organization's owners and managers, when
signed in, see how many confirmed subscribers it has: a count, never an address.
"""

from __future__ import annotations

from typing import Any, Final

import asyncpg
from starlette.requests import Request

from fediverse_biz.business import mail_subscriptions, teams
from fediverse_biz.core import oauth
from fediverse_biz.core.instance_facts import has_privacy_policy
from fediverse_biz.services import services
from fediverse_biz.urls import PRIVACY_POLICY_PATH
from fediverse_biz.web.session import current_user, secret

FORM_PURPOSE: Final = "mail-subscribe"
FORM_MAX_AGE: Final = 86_400
TEAM_ROLES: Final = frozenset({"owner", "manager"})


def mail_enabled(request: Request) -> bool:
    return bool(services(request).settings.smtp_url)


async def _team_count(request: Request, actor: asyncpg.Record) -> int | None:
    user = await current_user(request)
    if user is None:
        return None
    pool = services(request).pool
    if await teams.member_role(pool, actor["id"], user["id"]) not in TEAM_ROLES:
        return None
    return await mail_subscriptions.confirmed_count(pool, actor["id"])


async def mail_box(request: Request, actor: asyncpg.Record, **state: Any) -> dict[str, Any] | None:
    """The box's context, or None when there is no box to show."""
    if not mail_enabled(request) or actor["actor_type"] != "Organization":
        return None
    urls = services(request).urls
    facts = await services(request).instance_facts.get()
    return {
        "action": f"{urls.profile_page(actor['username'])}/subscribe",
        "form_token": oauth.sign_form_token(secret(request), FORM_PURPOSE, [actor["username"]]),
        "options": mail_subscriptions.options(actor["display_name"] or actor["username"]),
        "consent_box": mail_subscriptions.CONSENT_BOX,
        "privacy_policy_url": urls.base + PRIVACY_POLICY_PATH if has_privacy_policy(facts) else None,
        "subscribers": await _team_count(request, actor),
        "values": {},
        "errors": {},
        "sent": False,
        **state,
    }
