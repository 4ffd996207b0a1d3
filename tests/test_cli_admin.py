"""The administration commands as an operator runs them (real processes on the test's database), and what
the apps and pages then see (the in-process app on the same database)."""

from __future__ import annotations

import asyncio
import dataclasses
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from fediverse_biz.db.database import Database
from fediverse_biz.services import services
from tests.support.accounts import PASSWORD
from tests.support.cli_processes import cli_env, one_error_line
from tests.support.cli_processes import run as run_cli
from tests.support.cluster import PgCluster
from tests.support.html import parse, text
from tests.support.oauth_flows import bearer, register, token_request


@pytest.fixture
def env(tmp_path: Path, cluster: PgCluster, database_name: str) -> dict[str, str]:
    return cli_env(tmp_path / "cli", DATABASE_URL=cluster.dsn(database_name))


async def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(run_cli, list(args), env)


async def sign_up(client: httpx.AsyncClient, oauth_app: dict[str, Any], username: str, reason: str = "") -> None:
    app_token = (await token_request(client, oauth_app, grant_type="client_credentials", scope="write")).json()
    form = {"username": username, "email": f"{username}@example.com", "password": PASSWORD, "agreement": "1"}
    response = await client.post(
        "/api/v1/accounts", data={**form, "reason": reason}, headers=bearer(app_token["access_token"])
    )
    assert response.status_code == 200, response.text


async def can_log_in(client: httpx.AsyncClient, oauth_app: dict[str, Any], username: str) -> bool:
    form = {"grant_type": "password", "username": username, "password": PASSWORD, "scope": "read"}
    response = await token_request(client, oauth_app, **form)
    if response.status_code != 200:
        return False
    me = await client.get("/api/v1/accounts/verify_credentials", headers=bearer(response.json()["access_token"]))
    return me.status_code == 200 and me.json()["username"] == username


# ---- sign-ups -----------------------------------------------------------------------------------
async def test_pending_sign_ups_are_listed_approved_and_rejected(
    env: dict[str, str], client: httpx.AsyncClient, app: Starlette, db: Database
) -> None:
    services(app).settings = dataclasses.replace(services(app).settings, registration_mode="approval")
    nothing = await cli(env, "pending-users")
    assert nothing.returncode == 0 and nothing.stdout == "no pending sign-ups\n", nothing.stderr

    oauth_app = await register(client)
    await sign_up(client, oauth_app, "newbie", reason="We forge anvils\nin Solingen")
    await sign_up(client, oauth_app, "spammer")
    listing = await cli(env, "pending-users")
    assert listing.returncode == 0, listing.stderr
    header, first, second = listing.stdout.splitlines()
    assert header.split() == ["username", "email", "signed", "up", "(UTC)", "reason"]
    assert first.split()[:2] == ["newbie", "newbie@example.com"]
    assert first.endswith("We forge anvils in Solingen")  # one line, whatever the reason's line breaks
    assert second.split()[:2] == ["spammer", "spammer@example.com"]
    assert not await can_log_in(client, oauth_app, "newbie")

    approved = await cli(env, "approve-user", "newbie")
    assert approved.returncode == 0, approved.stderr
    assert approved.stdout.startswith("approved @newbie@") and len(approved.stdout.splitlines()) == 1
    assert await can_log_in(client, oauth_app, "newbie")
    assert not await can_log_in(client, oauth_app, "spammer")

    rejected = await cli(env, "reject-user", "@spammer")
    assert rejected.returncode == 0, rejected.stderr
    assert rejected.stdout.startswith("rejected the sign-up of @spammer")
    assert await db.pool.fetchval("SELECT count(*) FROM actors WHERE username = 'spammer'") == 0
    assert await db.pool.fetchval("SELECT count(*) FROM users WHERE email = 'spammer@example.com'") == 0

    already = await cli(env, "reject-user", "newbie")
    assert already.returncode == 1
    assert one_error_line(already) == "fediverse-biz: error: @newbie is not waiting for approval (already approved)"
    assert await can_log_in(client, oauth_app, "newbie")
    unknown = await cli(env, "approve-user", "nobody")
    assert unknown.returncode == 1
    assert one_error_line(unknown) == "fediverse-biz: error: no local user named 'nobody'"


# ---- the instance's texts -------------------------------------------------------------------------
async def test_set_instance_changes_only_what_is_given_and_everything_shows_it(
    env: dict[str, str], tmp_path: Path, client: httpx.AsyncClient
) -> None:
    description = tmp_path / "description.txt"
    description.write_text("Machine builders of the region.\n\nWe meet every first Monday.\n", encoding="utf-8")
    rules = tmp_path / "rules.txt"
    rules.write_text("Be civil\n\nNo spam\nStellenangebote gehören in #offers\n", encoding="utf-8")
    policy = tmp_path / "privacy.md"
    policy.write_text("# Privacy\n\nWe keep **your address**, nothing more.\n", encoding="utf-8")
    everything = await cli(
        env, "set-instance", "--title", "Anvil Guild", "--description-file", str(description),
        "--contact-email", "first@guild.example", "--rules-file", str(rules),
        "--privacy-policy-file", str(policy),
    )  # fmt: skip
    assert everything.returncode == 0, everything.stderr
    assert everything.stdout == (
        "instance updated: title, description, contact email, 3 rules, privacy policy\n"
    )
    only_email = await cli(env, "set-instance", "--contact-email", "team@guild.example")
    assert only_email.returncode == 0, only_email.stderr
    assert only_email.stdout == "instance updated: contact email\n"

    v1 = (await client.get("/api/v1/instance")).json()
    v2 = (await client.get("/api/v2/instance")).json()
    assert v1["title"] == v2["title"] == "Anvil Guild"
    assert v1["short_description"] == v2["description"] == "Machine builders of the region."
    assert v1["email"] == v2["contact"]["email"] == "team@guild.example"
    expected_rules = ["Be civil", "No spam", "Stellenangebote gehören in #offers"]
    assert [r["text"] for r in v1["rules"]] == [r["text"] for r in v2["rules"]] == expected_rules
    assert [r["id"] for r in (await client.get("/api/v1/instance/rules")).json()] == ["1", "2", "3"]
    assert (await client.get("/api/v1/instance/privacy_policy")).json()["content"] == (
        "<h1>Privacy</h1>\n<p>We keep <strong>your address</strong>, nothing more.</p>"
    )
    extended = (await client.get("/api/v1/instance/extended_description")).json()
    assert extended["content"] == "<p>Machine builders of the region.</p>\n\n<p>We meet every first Monday.</p>"
    about = text(parse((await client.get("/about", headers={"Accept": "text/html"})).text))
    for shown in ("Anvil Guild", "We meet every first Monday.", "Stellenangebote gehören in #offers",
                  "team@guild.example", "Signing up means agreeing to the rules of this server and to its privacy"):
        assert shown in about, shown


async def test_set_instance_refusals_are_one_line_and_write_nothing(
    env: dict[str, str], tmp_path: Path, db: Database
) -> None:
    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Régles".encode("latin-1"))
    long_rule = tmp_path / "rules.txt"
    long_rule.write_text("Be civil\n" + "x" * 301 + "\n", encoding="utf-8")
    cases = [
        ((), 2, "nothing to change: give at least one of --title, --description-file"),
        (("--rules-file", str(tmp_path / "missing.txt")), 1,
         f"--rules-file: cannot read {tmp_path / 'missing.txt'}: No such file or directory"),
        (("--privacy-policy-file", str(tmp_path)), 1, f"--privacy-policy-file: cannot read {tmp_path}: Is a directory"),
        (("--description-file", str(latin1)), 1, f"--description-file: {latin1} is not UTF-8 text"),
        (("--title", "Guild", "--contact-email", "not-an-address"), 1,
         "--contact-email: invalid contact email address 'not-an-address'"),
        (("--rules-file", str(long_rule)), 1, "--rules-file: rule 2 is too long (301 characters, at most 300)"),
    ]  # fmt: skip
    for args, status, message in cases:
        result = await cli(env, "set-instance", *args)
        assert result.returncode == status, (args, result.stderr)
        line = one_error_line(result)
        assert message in line, line
        assert result.stdout == ""
    assert await db.pool.fetchval("SELECT count(*) FROM instance_settings") == 0
