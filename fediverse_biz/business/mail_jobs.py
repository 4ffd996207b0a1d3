"""The `send_mail` job: the only place a mail is written and handed to the SMTP server (docs/mail.md).

A job names a subscription (and a status), never an address: the message is composed when it is sent,
so an address that unsubscribed meanwhile, or an organization deleted meanwhile, gets nothing. Every
message is multipart text + HTML; update mails carry RFC 8058's one-click `List-Unsubscribe`.
Temporary SMTP failures are retried with the queue's backoff; a 5xx reply drops the job.
"""

from __future__ import annotations

import html
import secrets
from collections.abc import Mapping
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from typing import Any, Final

from fediverse_biz.business import mail_subscriptions
from fediverse_biz.business.mail_digests import MAX_POSTS, POSTS_OF_PERIOD
from fediverse_biz.config import Settings
from fediverse_biz.jobs.contract import Handler, PermanentError, RetryableError, WorkerContext
from fediverse_biz.jobs.queue import Job
from fediverse_biz.net import smtp
from fediverse_biz.text.content import html_to_text
from fediverse_biz.urls import PRIVACY_POLICY_PATH, LocalUrls

MAIL_PATH: Final = "/mail"  # confirmation and unsubscribe pages (web/mail_pages.py)
_SUBSCRIPTION = """
SELECT s.*, a.username, a.display_name, a.suspended_at FROM mail_subscriptions s JOIN actors a ON a.id = s.actor_id
WHERE s.id = $1
"""


def sender(settings: Settings) -> str:
    return settings.mail_from or f"no-reply@{settings.hostname.strip('[]')}"


def _message(settings: Settings, to: str, subject: str, text: str, body_html: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = sender(settings)
    # Address() refuses line breaks and builds the header itself, so a recipient cannot add headers.
    local, _, domain = to.rpartition("@")
    message["To"] = Address(addr_spec=f"{local}@{domain}")
    message["Subject"] = " ".join(subject.split())  # no line breaks from a display name
    message["Date"] = format_datetime(datetime.now(UTC))
    message["Message-ID"] = make_msgid(domain=settings.hostname.strip("[]"))
    message.set_content(text)
    message.add_alternative(body_html, subtype="html")
    return message


def confirmation(settings: Settings, urls: LocalUrls, to: str, name: str, token: str) -> EmailMessage:
    link = f"{urls.base}{MAIL_PATH}/confirm/{token}"
    text = (f"Someone, hopefully you, asked for e-mail updates from {name} on {settings.domain}.\n\n"
            f"To confirm, open this link:\n{link}\n\n"
            "If it was not you, ignore this mail: nothing more will be sent to this address.\n")  # fmt: skip
    body = (f"<p>Someone, hopefully you, asked for e-mail updates from <strong>{html.escape(name)}</strong> on "
            f"{html.escape(settings.domain)}.</p><p><a href=\"{html.escape(link)}\">Confirm the subscription</a></p>"
            "<p>If it was not you, ignore this mail: nothing more will be sent to this address.</p>")  # fmt: skip
    return _message(settings, to, f"Confirm your updates from {name}", text, body)


def update(settings: Settings, urls: LocalUrls, to: str, name: str, username: str,
           posts: list[tuple[int, str]], unsubscribe: str, *, digest: str | None = None) -> EmailMessage:  # fmt: skip
    """One post (`digest` None) or a digest of several, newest first; `posts` are (status id, stored HTML),
    sanitised when they were stored (text/sanitize.py)."""
    booth = urls.profile_page(username, "Organization")
    footer = f"You receive this because you subscribed on {booth}."
    texts, blocks = [], []
    for status_id, content in posts:
        link = urls.status_page(username, status_id)
        texts.append(f"{html_to_text(content)}\n\nRead it on the web: {link}")
        blocks.append(f"<div>{content}</div><p><a href=\"{html.escape(link)}\">Read it on the web</a></p>")
    text = "\n\n* * *\n\n".join(texts) + f"\n\n--\n{footer}\nUnsubscribe: {unsubscribe}\n"
    body = ("<hr>".join(blocks) + f"<hr><p><small>{html.escape(footer)} "
            f"<a href=\"{html.escape(unsubscribe)}\">Unsubscribe</a> · "
            f"<a href=\"{html.escape(urls.base + PRIVACY_POLICY_PATH)}\">Privacy policy</a></small></p>")  # fmt: skip
    first = html_to_text(posts[0][1])[:60] or "a new post"
    subject = f"{name}: {first}" if digest is None else f"{name}: your {digest} digest ({len(posts)} posts)"
    message = _message(settings, to, subject, text, body)
    message["List-Unsubscribe"] = f"<{unsubscribe}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    return message


async def _posts(ctx: WorkerContext, row: Mapping[str, Any], payload: Mapping[str, Any]) -> list[tuple[int, str]]:
    if payload.get("purpose") == "digest":
        since, until = datetime.fromisoformat(payload["since"]), datetime.fromisoformat(payload["until"])
        rows = await ctx.pool.fetch(POSTS_OF_PERIOD, row["actor_id"], since, until, MAX_POSTS)
    else:
        rows = await ctx.pool.fetch(
            "SELECT id, content FROM statuses WHERE id = $1 AND actor_id = $2 AND visibility = 'public'",
            int(payload["status_id"]), row["actor_id"],
        )  # fmt: skip
    return [(r["id"], r["content"]) for r in rows]


async def handle_send_mail(ctx: WorkerContext, job: Job) -> None:
    settings = ctx.settings
    if not settings.smtp_url:
        raise PermanentError("mail is off: FEDIVERSE_BIZ_SMTP_URL is not set")
    row = await ctx.pool.fetchrow(_SUBSCRIPTION, int(job.payload["subscription_id"]))
    if row is None or row["suspended_at"] is not None:
        return  # unsubscribed, or the organization is gone: nothing to send, by design
    name = row["display_name"] or row["username"]
    if job.payload.get("purpose") == "confirm":
        token = secrets.token_urlsafe(32)
        await mail_subscriptions.new_confirm_token(ctx.pool, row["id"], token)
        message = confirmation(settings, ctx.urls, row["email"], name, token)
    else:
        if row["confirmed_at"] is None:
            return  # nothing but the confirmation before consent is confirmed
        posts = await _posts(ctx, row, job.payload)
        if not posts:
            return  # deleted or made private before the mail went
        token = mail_subscriptions.unsubscribe_token(str(settings.secret_key), row["id"], row["email"])
        link = f"{ctx.urls.base}{MAIL_PATH}/unsubscribe/{token}"
        digest = row["frequency"] if job.payload.get("purpose") == "digest" else None
        message = update(settings, ctx.urls, row["email"], name, row["username"], posts, link, digest=digest)
    try:
        await smtp.send(smtp.SmtpServer.from_url(settings.smtp_url), message)
    except smtp.MailRefused as exc:
        raise PermanentError(f"SMTP refused: {exc}") from exc
    except smtp.MailDeferred as exc:
        raise RetryableError(f"SMTP deferred: {exc}") from exc


def handlers() -> dict[str, Handler]:
    return {mail_subscriptions.SEND_MAIL: handle_send_mail}
