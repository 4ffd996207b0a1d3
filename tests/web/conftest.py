"""Browser fixtures for the page tests: one headless Chromium per run, a fresh context per test."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

import pytest
from playwright.async_api import Browser, async_playwright

from tests.support.browser import CHROMIUM, HEIGHT, LAUNCH_ARGS, BrowserChecks


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS, headless=True)
        yield chromium
        await chromium.close()


@pytest.fixture
async def browser_page(
    browser: Browser, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[BrowserChecks]:
    """A page in a context of its own (no cookies shared between tests), with the checks attached;
    screenshots go to <basetemp>/screenshots/<test name>/."""
    context = await browser.new_context(viewport={"width": 1280, "height": HEIGHT}, locale="en-GB")
    page = await context.new_page()
    shots = tmp_path_factory.getbasetemp() / "screenshots" / re.sub(r"[^\w.-]+", "_", request.node.name)
    yield BrowserChecks(page, shots)
    await context.close()
