"""Every public page in a real browser at 375 and 1280 px: nothing runs off the right edge, every control
is labelled, the HTML is valid, the console stays clean (tests/support/browser.py); screenshots are kept
under the basetemp. Then the layout defects a browser showed, each measured where it happened."""

from __future__ import annotations

from typing import Any

from tests.support.accounts import PASSWORD
from tests.support.browser import BrowserChecks
from tests.support.servers import LiveServer
from tests.support.showcase import furnish


async def sign_in(checks: BrowserChecks, base: str, username: str, next_path: str) -> None:
    page = checks.page
    await page.goto(f"{base}/session/login?next={next_path}")
    await page.fill("input[name=login]", username)
    await page.fill("input[name=password]", PASSWORD)
    await page.click("main button[type=submit]")


async def test_every_public_page_fits_and_is_labelled_at_both_widths(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    fair = await furnish(live_server)
    base = live_server.base_url
    pages = {
        "about": "/about",
        "privacy-policy": "/privacy-policy",
        "directory": "/directory",
        "directory-filtered": "/directory?sector=C&country=FR&type=Organization&order=new&local=1&q=forge",
        "directory-ignored": "/directory?sector=ZZ&country=XX",
        "communities": "/communities",
        "hall": f"/c/{fair.hall_name}",
        "jobs": "/jobs",
        "jobs-filtered": "/jobs?sector=C&employment_type=FULL_TIME&remote=1&region=FR",
        "opportunities": "/opportunities",
        "booth": "/@forge",
        "post": f"/@forge/{fair.post_id}",
        "job-post": f"/@forge/{fair.job_id}",
        "sign-in": "/session/login",
        "sign-up": "/sign-up",
    }
    for name, path in pages.items():
        await browser_page.visit(base + path, name)
    await browser_page.visit(base + "/@nobody", "not-found", status=404)
    assert len(browser_page.visited) == len(pages) + 1


async def test_the_filter_forms_keep_their_fields_in_their_columns_at_1280(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    await furnish(live_server)
    page = browser_page.page
    for path in ("/directory", "/communities", "/jobs", "/opportunities"):
        await browser_page.visit(live_server.base_url + path, path.strip("/"))
        await page.set_viewport_size({"width": 1280, "height": 900})
        boxes: list[dict[str, Any]] = await page.eval_on_selector_all(
            "form.filters > *",
            """cells => cells.map(cell => {
                 const box = cell.getBoundingClientRect();
                 const control = cell.querySelector('select, input, button') || cell;
                 const inner = control.getBoundingClientRect();
                 return {left: box.left, right: box.right, top: box.top, bottom: box.bottom,
                         innerRight: inner.right, innerLeft: inner.left};
               })""",
        )
        form_right = await page.eval_on_selector("form.filters", "f => f.getBoundingClientRect().right")
        for i, box in enumerate(boxes):
            # every control inside its own cell, and the cell inside the form
            assert box["innerRight"] <= box["right"] + 1 and box["right"] <= form_right + 1, (path, i, box)
            for other in boxes[i + 1 :]:  # no two cells overlap (the Show button sat on a select)
                apart = (
                    box["right"] <= other["left"] + 1 or other["right"] <= box["left"] + 1
                    or box["bottom"] <= other["top"] + 1 or other["bottom"] <= box["top"] + 1
                )  # fmt: skip
                assert apart, (path, box, other)
        rows = {round(b["bottom"]) for b in boxes}  # cells sit on their row's bottom line (align-items: end)
        assert len(rows) < len(boxes), f"{path}: the fields run under each other, one a row: {boxes}"


async def test_directory_avatars_stay_square_beside_two_lines_of_text(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    await furnish(live_server)
    await browser_page.visit(live_server.base_url + "/directory", "directory")
    for width in (375, 1280):
        await browser_page.page.set_viewport_size({"width": width, "height": 900})
        sizes = await browser_page.page.eval_on_selector_all(
            ".entry img", "imgs => imgs.map(i => [i.getBoundingClientRect().width, i.getBoundingClientRect().height])"
        )
        assert sizes and all(w == h == 64 for w, h in sizes), (width, sizes)


async def test_the_offer_form_lays_out_its_fields_and_says_every_error_beside_it(
    live_server: LiveServer, browser_page: BrowserChecks
) -> None:
    await furnish(live_server)
    base, page = live_server.base_url, browser_page.page
    await sign_in(browser_page, base, "olga", "/jobs/new")
    await page.wait_for_url(f"{base}/jobs/new")
    await browser_page.check("job-form")
    await browser_page.visit(base + "/opportunities/new", "opportunity-form")
    await browser_page.visit(base + "/jobs/new", "job-form-again")

    # The checkbox sits on its label's line, to the left of its words.
    box = await page.eval_on_selector("#field-remote", "c => c.getBoundingClientRect().toJSON()")
    words = await page.eval_on_selector(
        "label.inline:has(#field-remote)",
        """l => { const r = document.createRange(); r.selectNodeContents(l.lastChild);
                  return r.getBoundingClientRect().toJSON(); }""",
    )
    assert box["right"] <= words["left"] and abs(
        (box["top"] + box["bottom"]) / 2 - (words["top"] + words["bottom"]) / 2
    ) < 8, (box, words)

    await page.fill("#field-title", "Welder")
    await page.fill("#field-salary_min", "abc")
    await page.fill("#field-region", "Bavari")
    await page.fill("#field-valid_through", "2020-01-01")
    await page.click("main button[type=submit]")
    await page.wait_for_selector(".errors")
    await browser_page.check("job-form-errors", status=422)
    said = await page.eval_on_selector_all(".field-error", "spans => spans.map(s => [s.id, s.textContent.trim()])")
    assert dict(said) == {
        "error-salary_min": "The lowest salary, 'abc', is not a number.",
        "error-region": "The region, 'BAVARI', is not a country code (DE) or subdivision code (DE-BY).",
        "error-valid_through": "The end date is in the past (2020-01-01).",
    }
    assert await page.input_value("#field-salary_min") == "abc"  # what was typed stays
    # Each sentence sits right under its own field.
    for field_id, _ in said:
        name = field_id.removeprefix("error-")
        gap = await page.evaluate(
            """([f, e]) => document.getElementById(e).getBoundingClientRect().top
                          - document.getElementById(f).getBoundingClientRect().bottom""",
            [f"field-{name}", field_id],
        )
        assert 0 <= gap < 16, (name, gap)
