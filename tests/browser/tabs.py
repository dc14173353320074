"""A browser tab that refuses and records every request leaving its origin, and every
console error, failed request or script error; it saves a screenshot of each page."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:  # imported by the fixture only, so that a missing package skips cleanly
    from playwright.sync_api import Browser, ConsoleMessage, Page, Request, Route

CHROMIUM = Path("/usr/bin/chromium")


def _browser_missing() -> str:
    """Why the browser tests cannot run here, or "" when they can."""
    if importlib.util.find_spec("playwright") is None:
        return "the playwright package is not installed (pip install -e '.[dev]')"
    if not CHROMIUM.exists():
        return f"no system Chromium at {CHROMIUM} (apt-get install -y chromium)"
    return ""


_MISSING = _browser_missing()
# On every test that opens a page; CI installs both, so there it always runs.
NEEDS_BROWSER = pytest.mark.skipif(bool(_MISSING), reason=_MISSING or "the browser is here")

# Where each visited page's screenshot goes (data/ is not committed); look at them after a run.
SCREENSHOTS = Path(__file__).resolve().parents[2] / "data" / "screenshots"


def origin_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


class Tab:
    def __init__(
        self, browser: Browser, origin: str, name: str, *, also: tuple[str, ...] = ()
    ) -> None:
        self.origin = origin
        # Other origins the journey crosses on purpose (single sign-on: the auth server's).
        self.origins = {origin, *also}
        self.name = name
        self.foreign: list[str] = []
        self.errors: list[str] = []
        self.context = browser.new_context(base_url=origin, viewport={"width": 1280, "height": 900})
        # Every request passes here: another origin is recorded and never reaches the network.
        self.context.route("**/*", self._guard)
        self.page: Page = self.context.new_page()
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.errors.append(f"script error: {error}"))
        self.page.on("requestfailed", self._failed)

    def _guard(self, route: Route) -> None:
        if origin_of(route.request.url) not in self.origins:
            self.foreign.append(route.request.url)
            route.abort()
            return
        route.continue_()

    def _console(self, message: ConsoleMessage) -> None:
        # Includes refused Content-Security-Policy loads and 4xx/5xx answers to sub-requests.
        if message.type == "error":
            self.errors.append(f"console error on {self.page.url}: {message.text}")

    def _failed(self, request: Request) -> None:
        # A page that moves on while loading (a script sending its form at once) makes
        # Chromium cancel what was still in flight, such as the favicon: no fault of the page.
        if request.failure == "net::ERR_ABORTED" and not request.is_navigation_request():
            return
        if origin_of(request.url) in self.origins:
            self.errors.append(f"request failed: {request.url} ({request.failure})")

    def open(self, path: str) -> Page:
        """Loads `path` and waits until the page has made all its requests."""
        response = self.page.goto(path, wait_until="networkidle")
        assert response is not None and response.ok, f"{path}: {response and response.status}"
        return self.page

    def screenshot(self, label: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        target = SCREENSHOTS / f"{self.name}-{re.sub(r'[^a-z0-9]+', '-', label.lower())}.png"
        self.page.screenshot(path=target, full_page=True)
        return target

    def visit(self, path: str, label: str = "") -> Page:
        """Opens a page, saves its screenshot, and checks that it stayed clean."""
        page = self.open(path)
        self.screenshot(label or path.strip("/") or "root")
        self.assert_clean()
        return page

    def refused(self, status: int) -> None:
        """The page now shown was answered with `status` on purpose (a form sent back with
        its errors): Chromium logs that document's status as a console error, which is then
        no fault of the page. Forgives exactly that one entry, for this page's URL."""
        expected = (
            f"console error on {self.page.url}: Failed to load resource: "
            f"the server responded with a status of {status}"
        )
        matching = [error for error in self.errors if error.startswith(expected)]
        assert matching, f"no {status} answer for {self.page.url} in {self.errors}"
        self.errors.remove(matching[0])

    def assert_clean(self) -> None:
        assert not self.foreign, f"requests to other origins: {self.foreign}"
        assert not self.errors, "\n".join(self.errors)

    def close(self) -> None:
        self.context.close()
