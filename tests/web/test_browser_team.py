"""The team page in a real browser, every page checked at 375 and 1280 px (tests/support/browser.py): an owner
makes an invitation link from the team page the header links to, the invited person accepts it in a browser
of their own, the owner changes the new member's role and then removes them, and the audit log — filtered
by action — shows each step."""

from __future__ import annotations

from playwright.async_api import Browser

from fediverse_biz.core import accounts
from fediverse_biz.db.pool import create_pool
from fediverse_biz.urls import LocalUrls
from tests.support.accounts import PASSWORD
from tests.support.browser import HEIGHT, BrowserChecks
from tests.support.browser_flows import act_as_forge, sign_in
from tests.support.servers import LiveServer
from tests.support.showcase import furnish


async def make_person(server: LiveServer, username: str) -> None:
    pool = await create_pool(server.dsn, min_size=1, max_size=1)
    try:
        await accounts.create_user(pool, LocalUrls(server.base_url), username, f"{username}@example.com", PASSWORD)
    finally:
        await pool.close()


async def accept_in_another_browser(browser: Browser, link: str, shots: BrowserChecks) -> None:
    """nina opens the link, signs in from it and accepts, in a context that shares nothing with the owner's."""
    context = await browser.new_context(viewport={"width": 1280, "height": HEIGHT}, locale="en-GB")
    try:
        checks = BrowserChecks(await context.new_page(), shots.shots.parent / (shots.shots.name + "-invited"))
        page = checks.page
        await checks.visit(link, "invitation-signed-out")
        assert "as a contributor" in await page.inner_text("main")
        await page.click("text=Sign in to accept")
        await checks.check("sign-in-from-the-invitation")
        await page.fill("input[name=login]", "nina")
        await page.fill("input[name=password]", PASSWORD)
        await page.click("button[type=submit]")
        await page.wait_for_url(link)
        await checks.check("invitation-signed-in")
        await page.click("button:has-text('Accept')")
        await page.wait_for_load_state("load")
        await checks.check("welcome")
        assert "You are now a contributor of @forge." in await page.inner_text("main")
    finally:
        await context.close()


async def test_an_owner_invites_a_member_changes_their_role_removes_them_and_reads_the_log(
    live_server: LiveServer, browser: Browser, browser_page: BrowserChecks
) -> None:
    fair = await furnish(live_server)
    await make_person(live_server, "nina")
    base, page = live_server.base_url, browser_page.page
    await sign_in(browser_page, base, "olga")
    await act_as_forge(browser_page, base, fair, "owner")

    await page.click("header.site a:has-text('Team')")
    await page.wait_for_url(f"{base}/team/forge")
    await browser_page.check("team")
    assert "Review queue: 0 posts waiting" in await page.inner_text("main")
    await page.select_option("#field-role", "contributor")
    await page.select_option("#field-expires_in", "7")
    await page.click("button:has-text('Make an invitation link')")
    await page.wait_for_load_state("load")
    await browser_page.check("invitation-made")
    link = await page.input_value("#invitation-link")
    assert link.startswith(f"{base}/invitations/")
    assert "For a contributor" in await page.inner_text("main")

    await accept_in_another_browser(browser, link, browser_page)

    await browser_page.visit(f"{base}/team/forge", "team-with-nina")
    assert "No invitation is open." in await page.inner_text("main")  # used: no longer open
    nina = page.locator("li.member", has_text="@nina")
    assert "contributor" in await nina.inner_text()
    await nina.locator("select[name=role]").select_option("editor")
    await nina.locator("button:has-text('Change role')").click()
    await page.wait_for_url(f"{base}/team/forge?done=role")
    await browser_page.check("role-changed")
    assert " · editor · " in await page.locator("li.member", has_text="@nina").inner_text()

    # The removal by keyboard alone: focus the button, press Enter.
    await page.locator("li.member", has_text="@nina").locator("button:has-text('Remove @nina')").focus()
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/team/forge?done=removed")
    await browser_page.check("removed")
    assert "@nina" not in await page.inner_text("ul.members")

    await page.click("text=Audit log")
    await page.wait_for_url(f"{base}/team/forge/audit")
    await browser_page.check("audit-log")
    log = await page.inner_text("ol.audit")
    for step in ("remove member · nina", "role change · nina", "accept invitation · nina", "invite · invitation"):
        assert step in log, step
    await page.select_option("select[name=action]", "role_change")
    await page.click("button:has-text('Show')")
    await page.wait_for_url(f"{base}/team/forge/audit?action=role_change")
    await browser_page.check("audit-log-role-changes")
    entries = await page.locator("ol.audit > li").all_inner_texts()
    assert len(entries) == 1 and "role change · nina" in entries[0] and "from: contributor" in entries[0]

    # The last owner cannot leave: the team page again, the rule said beside the button.
    await page.click("text=Back to the team")
    await page.wait_for_url(f"{base}/team/forge")
    await page.click("button:has-text('Leave the team')")
    await page.wait_for_load_state("load")
    await browser_page.check("last-owner-refused", status=422)
    assert "keeps at least one owner" in await page.inner_text("[role=alert]")
    assert "keeps at least one owner" in await page.inner_text("li.member:has-text('@olga') .field-error")
