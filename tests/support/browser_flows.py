"""Steps the back-office browser tests share: signing in and out, acting as the showcase's forge."""

from __future__ import annotations

from tests.support.accounts import PASSWORD
from tests.support.browser import BrowserChecks
from tests.support.showcase import Fair


async def sign_in(checks: BrowserChecks, base: str, username: str, next_path: str = "/compose") -> None:
    page = checks.page
    await checks.visit(f"{base}/session/login?next={next_path}", f"sign-in-{username}")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.check("input[name=remember]")
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}{next_path}")
    await checks.check(f"after-sign-in-{username}")


async def act_as_forge(checks: BrowserChecks, base: str, fair: Fair, name: str) -> None:
    page = checks.page
    await page.click("a.acting")
    await page.wait_for_url(f"{base}/act-as")
    await checks.check(f"act-as-{name}")
    await page.check(f"input[name=actor][value='{fair.forge_id}']")
    await page.click("text=Act as this account")
    await page.wait_for_url(f"{base}/compose")
    await checks.check(f"composer-{name}")


async def sign_out(checks: BrowserChecks, base: str) -> None:
    await checks.page.click("header.site button:has-text('Sign out')")
    await checks.page.wait_for_url(f"{base}/session/login")
