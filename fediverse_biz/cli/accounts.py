"""Commands that set up and list accounts: init, migrate, create-user, create-org, list-accounts."""

from __future__ import annotations

import argparse
import getpass
import sys
from pathlib import Path

import asyncpg

from fediverse_biz.cli._common import CliError, run, with_database
from fediverse_biz.config import Settings
from fediverse_biz.core import accounts
from fediverse_biz.db import migrations
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls


def _read_password(path: str | None) -> str:
    if path:
        try:
            text = Path(path).read_text()
        except OSError as exc:
            raise CliError(f"--password-file: cannot read {path}: {exc.strerror}") from None
        return text.splitlines()[0] if text else ""
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Repeat password: ") != first:
        raise CliError("the passwords do not match")
    return first


def cmd_init(settings: Settings, args: argparse.Namespace) -> None:
    async def action(db: Database) -> None:
        await accounts.ensure_instance_actor(db.pool, LocalUrls(settings.base_url), settings.hostname)

    run(with_database(settings, action))
    print(f"initialised {settings.data_dir.resolve()} for {settings.base_url}")


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    async def action(db: Database) -> None:
        async with db.pool.acquire() as conn:
            versions = await migrations.applied_versions(conn)
        print(f"database is at migration {max(versions):04d}" if versions else "no migrations applied")

    # open_database applies pending migrations before it returns.
    run(with_database(settings, action))


def cmd_create_user(settings: Settings, args: argparse.Namespace) -> None:
    accounts.validate_username(args.username)  # fail before prompting for a password
    accounts.validate_email(args.email)
    password = _read_password(args.password_file)

    async def action(db: Database) -> accounts.NewUser:
        return await accounts.create_user(
            db.pool, LocalUrls(settings.base_url), args.username, args.email, password,
            role="admin" if args.admin else "member", display_name=args.display_name or "",
        )

    user = run(with_database(settings, action))
    print(f"created user @{user.username}@{settings.domain} (id {user.actor_id})")


def cmd_create_org(settings: Settings, args: argparse.Namespace) -> None:
    accounts.validate_username(args.username)

    async def action(db: Database) -> asyncpg.Record:
        return await accounts.create_organization(
            db.pool, LocalUrls(settings.base_url), args.username, args.owner,
            display_name=args.display_name or "",
        )

    org = run(with_database(settings, action))
    print(f"created organization @{org['username']}@{settings.domain} (id {org['id']}), owner @{args.owner}")


def cmd_list_accounts(settings: Settings, args: argparse.Namespace) -> None:
    rows = run(with_database(settings, lambda db: accounts.list_local_accounts(db.pool)))
    if not rows:
        print("no accounts yet")
        return
    print(f"{'id':<20} {'username':<31} {'type':<13} {'role/owner':<20} email")
    for r in rows:
        who = r["role"] or (f"owner @{r['owners']}" if r["owners"] else "")
        print(f"{r['id']:<20} {r['username']:<31} {r['actor_type']:<13} {who:<20} {r['email'] or ''}")


def register(sub: argparse._SubParsersAction) -> None:
    sub.add_parser("init", help="create the data directory, secret, database and instance actor").set_defaults(
        func=cmd_init
    )
    sub.add_parser("migrate", help="apply pending database migrations").set_defaults(func=cmd_migrate)

    p = sub.add_parser("create-user", help="create a local user and their personal account")
    p.add_argument("username")
    p.add_argument("--email", required=True)
    p.add_argument("--password-file", help="read the password from the first line of this file")
    p.add_argument("--admin", action="store_true", help="give the user the admin role")
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_create_user)

    p = sub.add_parser("create-org", help="create an organization account owned by a user")
    p.add_argument("username")
    p.add_argument("--owner", required=True, help="username of the owning local user")
    p.add_argument("--display-name")
    p.set_defaults(func=cmd_create_org)

    sub.add_parser("list-accounts", help="list local accounts").set_defaults(func=cmd_list_accounts)
