"""The mail settings: checked at start-up, one line naming the setting; and how the URL is read."""

from __future__ import annotations

from pathlib import Path

import pytest

from fediverse_biz.config import ConfigError, load_settings
from fediverse_biz.net.smtp import SmtpServer


def _load(tmp_path: Path, **env: str) -> object:
    return load_settings({"FEDIVERSE_BIZ_DATA_DIR": str(tmp_path), **env})


def test_mail_is_off_by_default(tmp_path: Path) -> None:
    settings = load_settings({"FEDIVERSE_BIZ_DATA_DIR": str(tmp_path)})
    assert settings.smtp_url is None and settings.mail_from is None


def test_smtp_urls(tmp_path: Path) -> None:
    settings = load_settings({"FEDIVERSE_BIZ_DATA_DIR": str(tmp_path),
                              "FEDIVERSE_BIZ_SMTP_URL": "smtps://news%40acme:p%3Ass@mail.example.com:465",
                              "FEDIVERSE_BIZ_MAIL_FROM": "news@acme.example"})  # fmt: skip
    assert settings.smtp_url is not None and settings.mail_from == "news@acme.example"
    server = SmtpServer.from_url(settings.smtp_url)
    assert (server.host, server.port, server.implicit_tls) == ("mail.example.com", 465, True)
    assert (server.username, server.password) == ("news@acme", "p:ss")
    plain = SmtpServer.from_url("smtp://127.0.0.1")
    assert (plain.port, plain.implicit_tls, plain.username) == (25, False, None)


@pytest.mark.parametrize(
    "url", ["http://mail.example.com", "mail.example.com:25", "smtp://", "smtp://host:99999", "smtp://host/path"]
)
def test_bad_smtp_urls_name_the_setting(tmp_path: Path, url: str) -> None:
    with pytest.raises(ConfigError, match=r"^FEDIVERSE_BIZ_SMTP_URL: "):
        _load(tmp_path, FEDIVERSE_BIZ_SMTP_URL=url)


@pytest.mark.parametrize("sender", ["news@acme.example\r\nBcc: x@evil.example", "Acme <news@acme.example>", "news"])
def test_bad_senders_name_the_setting(tmp_path: Path, sender: str) -> None:
    with pytest.raises(ConfigError, match=r"^FEDIVERSE_BIZ_MAIL_FROM: "):
        _load(tmp_path, FEDIVERSE_BIZ_MAIL_FROM=sender)
