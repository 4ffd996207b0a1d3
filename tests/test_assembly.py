"""The extension points and the job handler table (fediverse_biz/assembly.py, core/hooks.py)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import asyncpg
import pytest

from fediverse_biz import assembly
from fediverse_biz.core import hooks, statuses
from fediverse_biz.core.hooks import Hooks
from fediverse_biz.core.hydrate import StatusBundle
from fediverse_biz.db.database import Database
from fediverse_biz.urls import LocalUrls
from tests.support import factories


@pytest.fixture
def restore_hooks() -> Iterator[None]:
    yield
    assembly.install_hooks()


def test_every_job_kind_has_one_handler() -> None:
    table = assembly.job_handlers()
    assert {"deliver", "inbox", "verify_links", "pull_directory", "pull_hall_members", "send_mail"} <= table.keys()


def test_the_registry_names_what_each_layer_registered() -> None:
    registry = assembly.hooks()
    modules = {hook.__module__ for hook in registry.status_published + registry.activity_sent}
    assert modules == {
        "fediverse_biz.federation.outbox",
        "fediverse_biz.federation.group_relay",
        "fediverse_biz.business.mail_subscriptions",
    }
    assert [h.__module__ for h in registry.profile_links_changed] == ["fediverse_biz.business.verified_links"]
    assert [h.__module__ for h in registry.remote_follow_requested] == ["fediverse_biz.federation.directory_sources"]


async def test_a_hook_before_installation_is_an_error_not_a_silent_no_op(
    db: Database, urls: LocalUrls, monkeypatch: pytest.MonkeyPatch
) -> None:
    alice = await factories.local_actor(db.pool, urls, "alice")
    monkeypatch.setattr(hooks, "_installed", None)
    with pytest.raises(hooks.HooksNotInstalled):
        await factories.post(db.pool, urls, alice, "hello")
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 0


async def test_hooks_run_inside_the_domain_operation(db: Database, urls: LocalUrls, restore_hooks: None) -> None:
    alice = await factories.local_actor(db.pool, urls, "alice")
    seen: list[str] = []

    async def note(conn: asyncpg.Connection, urls: LocalUrls, bundle: StatusBundle) -> None:
        # the status is visible to the hook's connection, not yet committed for anyone else
        assert await conn.fetchval("SELECT content FROM statuses WHERE id = $1", bundle.id) is not None
        assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 0
        seen.append(str(bundle.status["content"]))

    async def refuse(*_: Any) -> None:
        raise RuntimeError("refused")

    hooks.install(Hooks(status_published=[note]))
    await factories.post(db.pool, urls, alice, "first")
    assert len(seen) == 1 and "first" in seen[0]
    # a hook that fails takes the whole operation back with it
    hooks.install(Hooks(status_published=[refuse]))
    with pytest.raises(RuntimeError, match="refused"):
        await statuses.create(db.pool, urls, factories.LOCAL_DOMAIN, alice, statuses.Draft(text="second"))
    assert await db.pool.fetchval("SELECT count(*) FROM statuses") == 1
