"""The SaaS Admin with ADMIN_REQUIRE_MFA, in Chromium: "Sign in with Rozitech" asks the auth
server for a second factor (acr_values), so a staff member without one sets up an
authenticator app on the way (the code computed by pyotp from the key the page shows) and
reaches the admin site; next time, password then code. Screenshots: data/screenshots/
admin-mfa-*.png.

Real processes: an auth server of this module's own (movable clock: each code works once,
the test moves time on a step instead of waiting), and the SaaS Admin, registered as its
client with the auth server's CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.auth_server.mfa_helpers import totp_code
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.browser.test_sso import back_at, register
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import TestClock
from tests.support.saas_process import SaasAdminProcess, saas_database
from tests.support.smtp import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CODE_LABEL = "Code from your authenticator app"


@dataclass
class Deployment:
    auth: AuthServerProcess
    saas: SaasAdminProcess
    clock: TestClock
    staff_email: str
    staff_password: str


@pytest.fixture(scope="module")
def deployment(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp("admin-mfa")
    clock = TestClock(workdir / "clock")
    with temporary_database(workdir) as auth_db, saas_database(workdir) as saas_db:
        auth = AuthServerProcess(
            auth_db, workdir / "auth", smtp_port=smtp_sink.port, test_clock_file=clock.path
        ).migrate()
        email, password, staff_organization = auth.first_admin()
        saas = SaasAdminProcess(
            saas_db,
            log_dir=workdir,
            auth_service_url=auth.base_url,
            auth_service_token=auth.service_token,
            auth_revocation_channel=auth.revocation_channel,
            saas_admin_staff_organization_id=staff_organization,
        )
        client = register(
            auth,
            "SaaS Admin",
            f"{saas.base_url}/admin/sso/callback/",
            f"{saas.base_url}/admin/login/",
        )
        saas.env["SAAS_ADMIN_OIDC_CLIENT_ID"] = client["clientId"]
        saas.env["SAAS_ADMIN_OIDC_CLIENT_SECRET"] = client["clientSecret"]
        saas.env["ADMIN_REQUIRE_MFA"] = "true"
        try:
            auth.start()
            saas.migrate().start()
            yield Deployment(auth, saas, clock, email, password)
        finally:
            saas.stop()
            auth.stop()


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


@NEEDS_BROWSER
def test_staff_set_up_a_second_factor_on_the_way_then_use_it(
    tab: Tab, deployment: Deployment
) -> None:
    # No factor yet: after the password, the provider has one set up.
    page = sign_in_with_rozitech(tab, deployment, "first")
    assert page.url.startswith(f"{deployment.auth.base_url}/signin/mfa/setup")
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
