"""Handing one message to the instance's SMTP server (FEDIVERSE_BIZ_SMTP_URL), with aiosmtplib.

aiosmtplib is asyncio-native, so a send holds a worker slot and no thread; it speaks implicit TLS
(`smtps://`) and upgrades a plain connection with STARTTLS whenever the server offers it.

The outcome is sorted the way SMTP sorts it: a 4xx reply or a connection that failed is temporary
(MailDeferred: try again later), a 5xx reply is final (MailRefused: retrying cannot help).
"""

from __future__ import annotations

from dataclasses import dataclass
from email.message import EmailMessage
from typing import Final
from urllib.parse import unquote, urlsplit

import aiosmtplib

TIMEOUT: Final = 30  # seconds for each step of the conversation


class MailDeferred(Exception):
    """The server could not take the message now; the same message may go through later."""


class MailRefused(Exception):
    """The server refused the message for good (a 5xx reply)."""


@dataclass(frozen=True, slots=True)
class SmtpServer:
    host: str
    port: int
    implicit_tls: bool
    username: str | None
    password: str | None

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        """From a URL that config.py has checked: smtp://user:pass@host:port or smtps://…"""
        parts = urlsplit(url)
        implicit = parts.scheme == "smtps"
        return cls(
            host=parts.hostname or "localhost",
            port=parts.port or (465 if implicit else 25),
            implicit_tls=implicit,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password else None,
        )


async def send(server: SmtpServer, message: EmailMessage) -> None:
    try:
        await aiosmtplib.send(
            message,
            hostname=server.host,
            port=server.port,
            username=server.username,
            password=server.password,
            use_tls=server.implicit_tls,
            # None: STARTTLS if the server offers it, plain otherwise (a relay on the same machine).
            start_tls=None if not server.implicit_tls else False,
            timeout=TIMEOUT,
        )
    except aiosmtplib.SMTPResponseException as exc:
        if 500 <= exc.code < 600:
            raise MailRefused(f"{exc.code} {exc.message}") from exc
        raise MailDeferred(f"{exc.code} {exc.message}") from exc
    except (aiosmtplib.SMTPException, OSError) as exc:
        raise MailDeferred(str(exc) or type(exc).__name__) from exc
