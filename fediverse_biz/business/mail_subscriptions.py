"""E-mail updates from an organization, with consent (docs/mail.md).

Double opt-in: `subscribe` records the consent and queues a confirmation mail; nothing else goes to the
address until its link is followed (`confirm`). Subscribing an address again only queues a new
confirmation and keeps an existing confirmation as it is, so no one can confirm, or re-confirm, for
someone else, nor learn whether an address is subscribed. Unsubscribing deletes the row: the address is
gone. Mails are only ever sent by the `send_mail` job (business/mail_jobs.py), never from a request.

The unsubscribe link carries `<id>.<HMAC>` over the subscription's id and address: nothing to store, and
it dies with the row.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from typing import Any, Final

import asyncpg

from fediverse_biz.business.mail_digests import PERIODS, SEND_MAIL, ensure_scheduled
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.db.executor import Executor
from fediverse_biz.jobs import queue
from fediverse_biz.urls import LocalUrls

MAX_ADDRESS: Final = 254  # RFC 5321's longest usable path
CONFIRMATIONS_PER_ADDRESS: Final = 3  # confirmation mails to one address per hour, across all booths
# A deliberately narrow address: no spaces, quotes, angle brackets, commas or line breaks, so that an
# address can never carry a second recipient or a header into the message.
_ADDRESS_RE: Final = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+")  # noqa: E501


class SubscriptionError(Exception):
    """A problem with what was submitted, said beside `field`."""

    def __init__(self, field: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.field = field
        self.status = status


FREQUENCIES: Final = ("immediate", *PERIODS)
_WHAT: Final = {
    "immediate": "An e-mail each time {name} publishes a public post",
    "daily": "One e-mail a day with the public posts {name} published that day",
    "weekly": "One e-mail a week with the public posts {name} published that week",
}
CONSENT_BOX: Final = ("I agree to receive the e-mails chosen above from this server, and can unsubscribe with one "
                      "click from any of them.")  # fmt: skip


def options(organization_name: str) -> dict[str, str]:
    """What each frequency sends, in the words of the form."""
    return {frequency: what.format(name=organization_name) for frequency, what in _WHAT.items()}


def consent_text(organization_name: str, frequency: str = "immediate") -> str:
    """What is recorded with a consent: the option chosen and the checkbox's words, exactly as shown."""
    return f"{options(organization_name)[frequency]}. {CONSENT_BOX}"


def _name(organization: Mapping[str, Any]) -> str:
    return str(organization["display_name"] or organization["username"])


def checked_address(text: str) -> str:
    address = text.strip()
    if len(address) > MAX_ADDRESS or not _ADDRESS_RE.fullmatch(address):
        raise SubscriptionError("email", "is not an e-mail address like name@example.com")
    # Lower case throughout: RFC 5321 lets a server tell "Ann" from "ann", none in practice does, and one
    # person must not hold two subscriptions or two budgets of confirmations.
    return address.lower()


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def unsubscribe_token(secret: str, subscription_id: int, email: str) -> str:
    mac = hmac.new(secret.encode(), f"unsubscribe:{subscription_id}:{email}".encode(), hashlib.sha256).hexdigest()
    return f"{subscription_id}.{mac}"


async def subscribe(pool: asyncpg.Pool, organization: Mapping[str, Any], email: str, *, consent: bool,
                    page: str, frequency: str = "immediate") -> None:  # fmt: skip
    """Record the consent and queue a confirmation mail (raises SubscriptionError)."""
    if frequency not in FREQUENCIES:
        raise SubscriptionError("frequency", "must be each post, daily or weekly")
    if not consent:
        raise SubscriptionError("consent", "must be ticked: we send nothing without it")
    address = checked_address(email)
    async with pool.acquire() as conn, conn.transaction():
        sent = await conn.fetchval(
            "SELECT count(*) FROM mail_confirmations_sent"
            " WHERE email_hash = $1 AND sent_at > now() - interval '1 hour'",
            _hash(address),
        )
        if sent >= CONFIRMATIONS_PER_ADDRESS:
            raise SubscriptionError("email", "has been sent enough confirmations for now; try again in an hour", 429)
        await conn.execute("DELETE FROM mail_confirmations_sent WHERE sent_at < now() - interval '1 day'")
        await conn.execute("INSERT INTO mail_confirmations_sent (email_hash) VALUES ($1)", _hash(address))
        # A confirmed row keeps its confirmation: only the address's owner may change anything there.
        subscription_id = await conn.fetchval(
            """
            INSERT INTO mail_subscriptions (actor_id, email, consent_text, consent_page, frequency)
            VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (actor_id, email) DO UPDATE SET
                frequency = CASE WHEN mail_subscriptions.confirmed_at IS NULL THEN excluded.frequency
                                 ELSE mail_subscriptions.frequency END,
                consent_text = CASE WHEN mail_subscriptions.confirmed_at IS NULL THEN excluded.consent_text
                                    ELSE mail_subscriptions.consent_text END,
                consent_page = CASE WHEN mail_subscriptions.confirmed_at IS NULL THEN excluded.consent_page
                                    ELSE mail_subscriptions.consent_page END,
                consented_at = CASE WHEN mail_subscriptions.confirmed_at IS NULL THEN now()
                                    ELSE mail_subscriptions.consented_at END
            RETURNING id
            """,
            organization["id"], address, consent_text(_name(organization), frequency), page, frequency,
        )  # fmt: skip
        await queue.enqueue(conn, SEND_MAIL, {"purpose": "confirm", "subscription_id": subscription_id})


async def new_confirm_token(conn: Executor, subscription_id: int, token: str) -> None:
    """Only the latest confirmation link works: its hash replaces any earlier one."""
    await conn.execute(
        "UPDATE mail_subscriptions SET confirm_token_hash = $2, confirm_sent_at = now() WHERE id = $1",
        subscription_id, _hash(token),
    )  # fmt: skip


async def pending(conn: Executor, token: str) -> asyncpg.Record | None:
    """The subscription a confirmation link names, or None for a forged, stale or used one."""
    if not token or len(token) > 100:
        return None
    return await conn.fetchrow(
        "SELECT s.*, a.username, a.display_name FROM mail_subscriptions s JOIN actors a ON a.id = s.actor_id"
        " WHERE s.confirm_token_hash = $1",
        _hash(token),
    )


async def confirm(pool: asyncpg.Pool, token: str) -> asyncpg.Record | None:
    async with pool.acquire() as conn, conn.transaction():
        row = await pending(conn, token)
        if row is None:
            return None
        await conn.execute(
            "UPDATE mail_subscriptions SET confirmed_at = coalesce(confirmed_at, now()), confirm_token_hash = NULL"
            " WHERE id = $1",
            row["id"],
        )
        await ensure_scheduled(conn, row["frequency"])
    return row


async def by_unsubscribe_token(conn: Executor, secret: str, token: str) -> asyncpg.Record | None:
    id_text, _, _ = token.partition(".")
    # ASCII digits that fit a bigint: anything else would make PostgreSQL refuse the query, not answer it.
    if not re.fullmatch(r"[0-9]{1,18}", id_text) or len(token) > 100:
        return None
    row = await conn.fetchrow(
        "SELECT s.*, a.username, a.display_name FROM mail_subscriptions s JOIN actors a ON a.id = s.actor_id"
        " WHERE s.id = $1",
        int(id_text),
    )
    if row is None or not hmac.compare_digest(unsubscribe_token(secret, row["id"], row["email"]), token):
        return None
    return row


async def unsubscribe(conn: Executor, secret: str, token: str) -> bool:
    row = await by_unsubscribe_token(conn, secret, token)
    if row is None:
        return False
    await conn.execute("DELETE FROM mail_subscriptions WHERE id = $1", row["id"])
    return True


async def confirmed_count(conn: Executor, actor_id: int) -> int:
    """What the team may know: how many, never who."""
    return int(await conn.fetchval(
        "SELECT count(*) FROM mail_subscriptions WHERE actor_id = $1 AND confirmed_at IS NOT NULL", actor_id
    ))  # fmt: skip


async def _mail_public_post(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> object:
    """An organization's own public post: one job per confirmed, immediate subscriber. Each job names
    the subscription, not the address, so an address that unsubscribes meanwhile gets nothing."""
    status, author = bundle.status, bundle.author
    if not (status["local"] and status["visibility"] == "public" and author["actor_type"] == "Organization"):
        return None
    if status["reblog_of_id"] is not None or status["in_reply_to_id"] is not None:  # news, not conversations
        return None
    ids = await conn.fetch(
        "SELECT id FROM mail_subscriptions WHERE actor_id = $1 AND confirmed_at IS NOT NULL"
        " AND frequency = 'immediate'",
        author["id"],
    )
    payloads: list[tuple[dict[str, Any], str | None]] = [
        ({"purpose": "update", "subscription_id": r["id"], "status_id": status["id"]}, None) for r in ids
    ]
    return await queue.enqueue_many(conn, SEND_MAIL, payloads)


async def _forget_subscribers(conn: asyncpg.Connection, actor: Mapping[str, Any], deletion: dict[str, Any]) -> object:
    """A deleted organization's subscribers' addresses go with it."""
    return await conn.execute("DELETE FROM mail_subscriptions WHERE actor_id = $1", actor["id"])


def register(hooks: Hooks) -> None:
    hooks.status_published.append(_mail_public_post)
    hooks.account_deleted.append(_forget_subscribers)
