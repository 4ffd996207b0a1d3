"""Mail tests: an in-process app that sends through a real SMTP server on loopback."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
import pytest

from fediverse_biz.assembly import job_handlers
from fediverse_biz.business.mail_digests import MAIL_DIGEST, SEND_MAIL
from fediverse_biz.config import Settings
from fediverse_biz.jobs import queue
from fediverse_biz.jobs.contract import PermanentError, RetryableError, WorkerContext
from fediverse_biz.net.fetch import create_session
from fediverse_biz.urls import LocalUrls
from tests.support.servers import make_settings
from tests.support.smtp_server import SmtpServer, smtp_server  # noqa: F401  (a fixture)

BROWSER = {"Accept": "text/html"}


@pytest.fixture
def settings(tmp_path: Path, smtp_server: SmtpServer) -> Settings:  # noqa: F811
    base = make_settings(tmp_path / "data", 80, domain="127.0.0.1", workers=0)
    return replace(base, smtp_url=smtp_server.url, mail_from="news@127.0.0.1")


async def run_mail_jobs(pool: asyncpg.Pool, settings: Settings) -> list[str]:
    """Run every due mail job (sends and digests) as a worker would; the outcome of each ("done", "retry",
    "dropped")."""
    table = job_handlers()
    http = create_session([], user_agent="test")
    outcomes: list[str] = []
    try:
        ctx = WorkerContext(pool, http, settings, LocalUrls(settings.base_url))
        jobs = await queue.claim(pool, worker_id="test", limit=100, lease=timedelta(minutes=1), per_host_limit=100)
        for job in jobs:
            if job.kind not in (SEND_MAIL, MAIL_DIGEST):
                continue
            try:
                await table[job.kind](ctx, job)
            except RetryableError as exc:
                await queue.retry(pool, job, str(exc))
                outcomes.append("retry")
                continue
            except PermanentError as exc:
                await queue.fail_permanently(pool, job, str(exc))
                outcomes.append("dropped")
                continue
            await queue.complete_many(pool, [job.id])
            outcomes.append("done")
    finally:
        await http.close()
    return outcomes


async def booth_form_token(client: httpx.AsyncClient, username: str) -> str:
    response = await client.get(f"/@{username}", headers=BROWSER)
    assert response.status_code == 200
    box = response.text.split('class="mail-updates"', 1)[1]
    found = re.search(r'name="form_token" value="([^"]+)"', box)
    assert found is not None
    return found.group(1)


def link_in(text: str, path: str) -> str:
    found = re.search(r"http://127\.0\.0\.1" + re.escape(path) + r"[^\s\"<>]+", text)
    assert found is not None, text
    return found.group(0)
