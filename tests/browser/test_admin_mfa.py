"""The SaaS Admin with ADMIN_REQUIRE_MFA, in Chromium: a staff session signed in with a
password alone gets the step-up page; its button goes through "Sign in with Rozitech", which
asks the auth server for a second factor (acr_values), so the staff member, who has none,
sets up an authenticator app on the way (the code computed by pyotp from the key the page
shows) and reaches the admin site; next time, password then code. Screenshots:
data/screenshots/admin-mfa-*.png.

Real processes (the browser tests' `deployment`): an auth server of this module's own
(movable clock: each code works once, the test moves time on a step instead of waiting), and
the SaaS Admin, registered as its client with the auth server's CLI; the test turns
ADMIN_REQUIRE_MFA on and off by restarting the SaaS Admin.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.auth_server.mfa_helpers import totp_code
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.sso import Deployment, back_at

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CODE_LABEL = "Code from your authenticator app"


@pytest.fixture
def tab(browser: Browser, deployment: Deployment) -> Iterator[Tab]:
    tab = Tab(browser, deployment.saas.base_url, "admin-mfa", also=(deployment.auth.base_url,))
    yield tab
    tab.close()


def submit(page: Page, label: str) -> None:
    with page.expect_navigation(wait_until="networkidle"):
        page.get_by_role("button", name=label, exact=True).click()


def sign_in_with_rozitech(tab: Tab, deployment: Deployment, label: str) -> Page:
    """The admin site's button, then e-mail and password on the auth server's page."""
    page = tab.visit("/admin/login/?next=/admin/", f"{label}-login")
    page.click("#sign-in-with-rozitech")
    page.wait_for_url(f"{deployment.auth.base_url}/signin**")
    page.get_by_label("Email", exact=True).fill(deployment.staff_email)
    page.get_by_label("Password", exact=True).fill(deployment.staff_password)
    submit(page, "Sign in")
    return page


def restart(deployment: Deployment, *, require_mfa: bool) -> None:
    """The SaaS Admin again with ADMIN_REQUIRE_MFA on or off (its sessions are in its
    database: they live on)."""
    deployment.saas.stop()
    deployment.saas.env["ADMIN_REQUIRE_MFA"] = "true" if require_mfa else "false"
    deployment.saas.start()


@NEEDS_BROWSER
def test_a_staff_session_steps_up_sets_up_a_second_factor_then_uses_it(
    tab: Tab, deployment: Deployment
) -> None:
    # Signed in with the password form while the setting was off.
    restart(deployment, require_mfa=False)
    page = tab.visit("/admin/login/?next=/admin/", "password-form")
    page.fill("#id_username", deployment.staff_email)
    page.fill("#id_password", deployment.staff_password)
    submit(page, "Log in")
    assert page.locator("#site-name").inner_text() == "Rozitech SaaS Admin"

    # The setting on: that session's next page is the step-up page, not the admin site.
    restart(deployment, require_mfa=True)
    page.goto(f"{deployment.saas.base_url}/admin/", wait_until="networkidle")
    tab.refused(403)
    assert "requires two-step verification" in page.locator("#step-up").inner_text()
    tab.screenshot("step-up")
    tab.assert_clean()
    with page.expect_navigation(url=f"{deployment.auth.base_url}/signin**"):
        page.click("#step-up-sign-in")
    page.get_by_label("Email", exact=True).fill(deployment.staff_email)
    page.get_by_label("Password", exact=True).fill(deployment.staff_password)
    submit(page, "Sign in")

    # No factor yet: the provider, asked for one (acr_values), has one set up.
    assert page.url.startswith(f"{deployment.auth.base_url}/signin/mfa/setup")
    assert page.get_by_text("The service you are signing in to requires").is_visible()
    tab.screenshot("setup")
    secret = page.locator("#totp-secret").inner_text()
    page.get_by_label(CODE_LABEL).fill(totp_code(secret, deployment.clock))
    submit(page, "Turn on two-step verification")
    assert page.locator("#recovery-codes code").count() == 10
    tab.screenshot("recovery-codes")
    with page.expect_navigation(url=f"{deployment.saas.base_url}/admin/"):
        page.get_by_role("link", name="I have saved them, continue").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#site-name").inner_text() == "Rozitech SaaS Admin"
    tab.screenshot("signed-in")
    tab.assert_clean()

    # Signed out everywhere; next time: the password, then a code from the app.
    with page.expect_navigation(url=back_at(deployment.saas.base_url, "/admin/login/")):
        page.locator("#logout-form button[type=submit]").click()
    deployment.clock.advance(30)
    page = sign_in_with_rozitech(tab, deployment, "again")
    assert page.url.startswith(f"{deployment.auth.base_url}/signin/mfa?")
    tab.screenshot("code-step")
    page.get_by_label(CODE_LABEL).fill(totp_code(secret, deployment.clock))
    with page.expect_navigation(url=f"{deployment.saas.base_url}/admin/"):
        page.get_by_role("button", name="Verify", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#site-name").inner_text() == "Rozitech SaaS Admin"
    tab.assert_clean()
