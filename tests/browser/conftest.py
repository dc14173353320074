"""Browser fixtures: the system Chromium driven by Playwright (never a downloaded browser).

Tests that use it carry NEEDS_BROWSER (skipped, saying why, where Chromium or the playwright
package is absent); `.ci/run` installs Chromium so that CI always runs them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.tabs import CHROMIUM
from tests.support.smtp import SmtpSink
from tests.support.sso import Deployment, sso_deployment

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    # Chromium's own calls home (updates, sync, safe browsing lists) are not the page's.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def deployment_settings() -> dict[str, Any]:
    """The auth server's settings for a module's `deployment`; a module overrides this."""
    return {}


@pytest.fixture(scope="module")
def deployment(
    smtp_sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    deployment_settings: dict[str, Any],
) -> Iterator[Deployment]:
    """The auth server and the SaaS Admin signing in through it, a module's own."""
    with sso_deployment(
        tmp_path_factory.mktemp("deployment"), smtp_sink.port, **deployment_settings
    ) as deployed:
        yield deployed
