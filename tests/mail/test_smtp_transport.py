"""net/smtp.py against a real SMTP server on loopback that requires a login."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from fediverse_biz.net import smtp
from tests.support.smtp_server import Mailbox

LOGINS: list[bytes] = []


def _authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"news@acme", b"p:ss")
    if ok:
        LOGINS.append(data.login)
    return AuthResult(success=ok, handled=False)


@pytest.fixture
def guarded() -> Iterator[tuple[int, Mailbox]]:
    mailbox = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    # No TLS on loopback in the test, so AUTH is offered over plain text here only.
    controller = Controller(mailbox, hostname="127.0.0.1", port=port, authenticator=_authenticator,
                            auth_require_tls=False)  # fmt: skip
    controller.start()
    try:
        yield port, mailbox
    finally:
        controller.stop()


def _message() -> EmailMessage:
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = "news@127.0.0.1", "reader@example.org", "Hello"
    message.set_content("Hello")
    return message


async def test_the_url_s_login_is_used(guarded: tuple[int, Mailbox]) -> None:
    port, mailbox = guarded
    await smtp.send(smtp.SmtpServer.from_url(f"smtp://news%40acme:p%3Ass@127.0.0.1:{port}"), _message())
    assert [m["Subject"] for m in mailbox.messages] == ["Hello"]
    assert LOGINS[-1:] == [b"news@acme"]


async def test_a_wrong_password_is_final_and_no_server_is_temporary(guarded: tuple[int, Mailbox]) -> None:
    port, mailbox = guarded
    with pytest.raises(smtp.MailRefused):
        await smtp.send(smtp.SmtpServer.from_url(f"smtp://news%40acme:wrong@127.0.0.1:{port}"), _message())
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = int(s.getsockname()[1])
    with pytest.raises(smtp.MailDeferred):
        await smtp.send(smtp.SmtpServer.from_url(f"smtp://127.0.0.1:{closed}"), _message())
    assert mailbox.messages == []
