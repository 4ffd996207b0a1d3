"""Commands that run the instance without an API client: reviewing sign-ups (approve-user, reject-user,
pending-users) and publishing the instance's texts (set-instance).

Each command parses its arguments, calls one domain operation (core/registrations.py,
core/instance_settings.py; one transaction each) and prints one line; a refusal is one line on stderr.
"""

from __future__ import annotations

import argparse
from collections.abc import Awaitable, Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from fediverse_biz.cli._common import CliError, run, with_database
from fediverse_biz.config import Settings
from fediverse_biz.core import instance_settings, registrations
from fediverse_biz.core.errors import DomainError
from fediverse_biz.core.instance_settings import InstanceChanges
from fediverse_biz.db.database import Database

# The options of set-instance by setting, for naming the one at fault.
_OPTIONS = {
    instance_settings.TITLE: "--title",
    instance_settings.DESCRIPTION: "--description-file",
    instance_settings.CONTACT_EMAIL: "--contact-email",
    instance_settings.RULES: "--rules-file",
    instance_settings.PRIVACY_POLICY: "--privacy-policy-file",
}


def _run(settings: Settings, action: Callable[[Database], Awaitable[Any]]) -> Any:
    try:
        return run(with_database(settings, action))
    except instance_settings.InstanceSettingError as exc:
        raise CliError(f"{_OPTIONS.get(exc.setting, exc.setting)}: {exc}") from None
    except DomainError as exc:
        raise CliError(str(exc)) from None


def _one_line(text: str | None) -> str:
    return " ".join((text or "").split())


# ---- sign-ups ----------------------------------------------------------------------------------
def cmd_pending_users(settings: Settings, args: argparse.Namespace) -> None:
    waiting: list[registrations.PendingSignUp] = _run(settings, lambda db: registrations.pending(db.pool))
    if not waiting:
        print("no pending sign-ups")
        return
    print(f"{'username':<31} {'email':<40} {'signed up (UTC)':<17} reason")
    for s in waiting:
        when = s.created_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M")
        print(f"{s.username:<31} {s.email:<40} {when:<17} {_one_line(s.reason)}")


def cmd_approve_user(settings: Settings, args: argparse.Namespace) -> None:
    approved = _run(settings, lambda db: registrations.approve(db.pool, args.username))
    print(f"approved @{approved.username}@{settings.domain} ({approved.email}): they can log in now")


def cmd_reject_user(settings: Settings, args: argparse.Namespace) -> None:
    rejected = _run(settings, lambda db: registrations.reject(db.pool, args.username))
    print(f"rejected the sign-up of @{rejected.username} ({rejected.email}): login and account removed")


# ---- the instance's texts ----------------------------------------------------------------------
def _read_text(option: str, path: str | None) -> str | None:
    if path is None:
        return None
    try:
        # utf-8-sig: a byte-order mark some editors write is not part of the text.
        return Path(path).read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise CliError(f"{option}: {path} is not UTF-8 text") from None
    except OSError as exc:
        raise CliError(f"{option}: cannot read {path}: {exc.strerror or exc}") from None


def _summary(values: dict[str, Any]) -> str:
    parts = []
    for key, value in values.items():
        name = key.replace("_", " ")
        if value is None:
            parts.append(f"{name} removed")
        elif key == instance_settings.RULES:
            parts.append(f"{len(value)} rule{'' if len(value) == 1 else 's'}")
        else:
            parts.append(name)
    return ", ".join(parts)


def cmd_set_instance(settings: Settings, args: argparse.Namespace) -> None:
    rules_text = _read_text("--rules-file", args.rules_file)
    changes = InstanceChanges(
        title=args.title,
        description=_read_text("--description-file", args.description_file),
        contact_email=args.contact_email,
        rules=rules_text.splitlines() if rules_text is not None else None,
        privacy_policy=_read_text("--privacy-policy-file", args.privacy_policy_file),
    )
    if changes == InstanceChanges():
        raise CliError("nothing to change: give at least one of " + ", ".join(_OPTIONS.values()), status=2)
    values = _run(settings, lambda db: instance_settings.update(db.pool, changes))
    # A running server caches these texts for up to a minute (api/instance.py).
    print(f"instance updated: {_summary(values)}")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("pending-users", help="list sign-ups waiting for approval")
    p.set_defaults(func=cmd_pending_users)

    p = sub.add_parser("approve-user", help="approve a pending sign-up, so the user can log in")
    p.add_argument("username")
    p.set_defaults(func=cmd_approve_user)

    p = sub.add_parser("reject-user", help="reject a pending sign-up: remove its login and account")
    p.add_argument("username")
    p.set_defaults(func=cmd_reject_user)

    p = sub.add_parser(
        "set-instance",
        help="publish the instance's title, description, contact address, rules and privacy policy",
        description="Only the options given change; an empty value or file removes that setting.",
    )
    p.add_argument("--title", metavar="T")
    p.add_argument("--description-file", metavar="F", help="UTF-8 plain text, paragraphs separated by blank lines")
    p.add_argument("--contact-email", metavar="E")
    p.add_argument("--rules-file", metavar="F", help="UTF-8, one rule a line; replaces the rules")
    p.add_argument("--privacy-policy-file", metavar="F", help="UTF-8 Markdown")
    p.set_defaults(func=cmd_set_instance)
