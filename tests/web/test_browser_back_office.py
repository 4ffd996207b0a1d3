"""The back office in a real browser, every page checked at 375 and 1280 px (tests/support/browser.py):
sign in, act as the organization, post into a hall and find the post on the booth; a contributor's post
waits, the page says so, and a manager approves it from the queue the composer links to with its count;
a contributor is refused the queue."""

from __future__ import annotations

from tests.support.accounts import PASSWORD
from tests.support.browser import BrowserChecks
from tests.support.browser_flows import act_as_forge, sign_in, sign_out
from tests.support.servers import LiveServer
from tests.support.showcase import furnish


async def test_an_owner_signs_in_acts_as_the_organization_and_posts_into_a_hall(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    fair = await furnish(live_server)
    base, page = live_server.base_url, browser_page.page
    await sign_in(browser_page, base, "olga")
    assert "Acting as olga (your own account)" in await page.inner_text("header.site")
    await act_as_forge(browser_page, base, fair, "owner")
    assert "Acting as Lyon Forge and Ironworks Cooperative (owner)" in await page.inner_text("header.site")

    await page.fill("#field-text", "The new gate for the Hôtel de Ville is finished.")
    await page.fill("#field-spoiler_text", "Long read")
    await page.select_option("#field-language", "en")
    await page.select_option("#field-hall_id", label="Metalworks: forging, casting and welding (@metalworks)")
    await page.click("button:has-text('Post')")
    await page.wait_for_url(f"{base}/@forge/*")
    await browser_page.check("posted")

    await browser_page.visit(f"{base}/@forge", "booth-with-the-post")
    post = page.locator("article.status", has_text="Long read")  # the content warning, shown first
    await post.locator("summary").click()  # opened, as a reader does
    assert "The new gate for the Hôtel de Ville is finished." in await post.inner_text()
    assert "@metalworks" in await post.inner_text()
    await browser_page.visit(f"{base}/session/sessions", "sessions")
    await browser_page.visit(f"{base}/session/password", "password")
    await sign_out(browser_page, base)
    assert "Sign in" in await page.inner_text("body")


async def test_a_contributors_post_waits_and_a_manager_approves_it_in_the_queue(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    fair = await furnish(live_server)
    base, page = live_server.base_url, browser_page.page
    await sign_in(browser_page, base, "carl")
    await act_as_forge(browser_page, base, fair, "contributor")
    assert "wait for approval" in await page.inner_text("main")
    await page.fill("#field-text", "Open day on Saturday, everyone welcome.")
    await page.click("button:has-text('Send for approval')")
    await page.wait_for_url(f"{base}/compose?done=held")
    await browser_page.check("held")
    assert "Your post waits for approval" in await page.inner_text("[role=status]")
    await browser_page.visit(f"{base}/@forge", "booth-without-the-held-post")
    assert "Open day on Saturday" not in await page.inner_text("main")
    await browser_page.visit(f"{base}/review/forge", "queue-refused", status=403)  # not a reviewer
    await browser_page.visit(f"{base}/compose", "composer-again")
    await sign_out(browser_page, base)

    await sign_in(browser_page, base, "mia")
    await act_as_forge(browser_page, base, fair, "manager")
    await page.click("text=Review queue: 1 post waiting")
    await page.wait_for_url(f"{base}/review/forge")
    await browser_page.check("queue")
    assert "Open day on Saturday" in await page.inner_text("main")
    await page.click("button:has-text('Approve and publish')")
    await page.wait_for_url(f"{base}/review/forge?done=approved")
    await browser_page.check("approved")

    await browser_page.visit(f"{base}/@forge", "booth-with-the-approved-post")
    assert "Open day on Saturday, everyone welcome." in await page.inner_text("main")


async def test_signing_in_and_posting_work_with_the_keyboard_alone(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    await furnish(live_server)
    base, page = live_server.base_url, browser_page.page
    await browser_page.visit(f"{base}/session/login?next=/compose", "sign-in-by-keyboard")
    await page.focus("input[name=login]")
    await page.keyboard.type("olga")
    await page.keyboard.press("Tab")
    await page.keyboard.type(PASSWORD)
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/compose")
    await browser_page.check("composer-by-keyboard")

    await page.focus("#field-text")
    await page.keyboard.type("Typed and sent without a mouse.")
    # Tab onwards until the submit button has the focus, as a keyboard user would
    for _ in range(40):
        await page.keyboard.press("Tab")
        if await page.evaluate("document.activeElement.type === 'submit'"):
            break
    assert await page.evaluate("document.activeElement.textContent.trim()") == "Post"
    outline = await page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline != "none"  # the focus is visible
    await page.keyboard.press("Enter")
    await page.wait_for_url(f"{base}/@olga/*")
    await browser_page.check("posted-by-keyboard")
    assert "Typed and sent without a mouse." in await page.inner_text("main")
