"""A real headless Chromium (Debian's `chromium`, driven by Playwright) against a live server.

    checks = BrowserChecks(page, shots_dir)
    await checks.visit(server.base_url + "/directory", "directory")   # open, then check at both widths
    await page.click("text=Show"); await checks.check("directory-filtered")   # check where a click led

Every page a browser test reaches goes through `check`: at 375 and 1280 px wide, nothing may stick
out to the right (`scrollWidth <= innerWidth`, naming the elements that do), every form control must
have a label and every button a name, the page's own HTML must parse as strict HTML5, and the
browser must have logged no console error (a CSP refusal, a missing file, a script error) since the
last check. Each page is photographed at both widths under the test's basetemp for a person to look at.

Chromium's own background traffic (updates, sync, safe browsing) is switched off: the test machine has
no outside network and must not be made to try.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

from playwright.async_api import ConsoleMessage, Page, Response

from tests.support.html import parse

CHROMIUM: Final = "/usr/bin/chromium"
LAUNCH_ARGS: Final = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
WIDTHS: Final = (375, 1280)
HEIGHT: Final = 900

# The elements whose right edge is past the viewport, to say what overflows rather than only that it does.
_OVERFLOW: Final = """() => {
  const width = window.innerWidth;
  const over = document.documentElement.scrollWidth > width;
  const culprits = [];
  if (over) {
    for (const el of document.body.querySelectorAll('*')) {
      const box = el.getBoundingClientRect();
      const classes = typeof el.className === 'string' && el.className ? '.' + el.className.trim() : '';
      if (box.width && box.right > width + 0.5) culprits.push(
        el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') + classes + ' right=' + Math.round(box.right));
      if (culprits.length >= 8) break;
    }
  }
  return {scrollWidth: document.documentElement.scrollWidth, innerWidth: width, culprits};
}"""
# Controls a person cannot name: no <label>, no aria-label, no aria-labelledby; buttons without text.
_UNLABELLED: Final = """() => {
  const named = el => (el.labels && el.labels.length)
    || el.getAttribute('aria-label') || el.getAttribute('aria-labelledby');
  const skip = new Set(['hidden', 'submit', 'button', 'reset', 'image']);
  const bad = [];
  for (const el of document.querySelectorAll('input, select, textarea')) {
    if (!skip.has(el.type) && !named(el)) bad.push(el.outerHTML.slice(0, 160));
  }
  for (const el of document.querySelectorAll('button, input[type=submit]')) {
    const text = (el.textContent || el.value || '').trim();
    if (!text && !el.getAttribute('aria-label')) bad.push(el.outerHTML.slice(0, 160));
  }
  return bad;
}"""


class BrowserChecks:
    """The checks every browser test applies to every page it visits (see the module's docstring)."""

    def __init__(self, page: Page, shots: Path) -> None:
        self.page = page
        self.shots = shots
        shots.mkdir(parents=True, exist_ok=True)
        self.console_errors: list[str] = []
        self.visited: list[str] = []
        self._document: Response | None = None  # the main frame's last page, whatever method reached it
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.console_errors.append(f"page error: {error}"))
        page.on("response", self._response)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"console: {message.text}")

    def _response(self, response: Response) -> None:
        if response.request.resource_type != "document":  # a missing stylesheet, image or icon: say which
            if response.status >= 400:
                self.console_errors.append(f"{response.status} for {response.request.resource_type} {response.url}")
            return
        if response.frame != self.page.main_frame:
            return
        if response.status >= 500:
            self.console_errors.append(f"server error {response.status} for {response.url}")
        if not 300 <= response.status < 400:
            self._document = response

    async def visit(self, url: str, name: str, *, status: int = 200) -> Response:
        response = await self.page.goto(url)
        assert response is not None, url
        assert response.status == status, f"{url}: {response.status}"
        await self.check(name, status=status)
        return response

    async def check(self, name: str, *, status: int = 200) -> None:
        """The current page, at both widths: overflow, labels, strict HTML, console; then screenshots.
        `status`: what the page was answered with (a form sent back with its errors is a 422)."""
        url = self.page.url
        assert re.fullmatch(r"[\w.-]+", name), name
        assert self._document is not None and self._document.status == status, (name, url)
        if status >= 400:  # Chromium logs an error page as a failed load: expected here, and only that once
            expected = f"console: Failed to load resource: the server responded with a status of {status}"
            failed = [e for e in self.console_errors if e.startswith(expected)]
            if failed:
                self.console_errors.remove(failed[0])
        html = await self._document_source()
        try:
            parse(html)
        except Exception as exc:  # html5lib's ParseError: name the page that is not valid HTML
            raise AssertionError(f"{name} ({url}) is not valid HTML5: {exc}") from exc
        for width in WIDTHS:
            await self.page.set_viewport_size({"width": width, "height": HEIGHT})
            await self.page.wait_for_load_state("load")
            overflow: dict[str, Any] = await self.page.evaluate(_OVERFLOW)
            assert overflow["scrollWidth"] <= overflow["innerWidth"], f"{name} at {width}px overflows: {overflow}"
            unlabelled: list[str] = await self.page.evaluate(_UNLABELLED)
            assert not unlabelled, f"{name}: controls without a label: {unlabelled}"
            await self.page.screenshot(path=str(self.shots / f"{name}-{width}.png"), full_page=True)
        assert not self.console_errors, f"{name} ({url}): {self.console_errors}"
        self.visited.append(name)

    async def _document_source(self) -> str:
        """The HTML the server sent for the current page (not the DOM: a browser repairs what it parses)."""
        assert self._document is not None, "no page has been loaded"
        return await self._document.text()
