"""Single sign-on across products, in Chromium: the admin site through "Sign in with Rozitech"
and back, a second product (the README's Starlette example) signed in silently
(`prompt=none`) in the same browser, the admin site's logout ending the single sign-on
session everywhere; that product on its own; and no admin site for someone not staff.

Real processes: an auth server of this module's own (its first admin is staff), the SaaS
Admin (the browser tests' `deployment`), and the README's product, each registered as a
client with the auth server's CLI.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, bearer, login, verified_user
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.product import ProductProcess
from tests.support.smtp import SmtpSink
from tests.support.sso import Deployment, back_at

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page


@pytest.fixture(scope="module")
def deployment_settings() -> dict[str, Any]:
    # Access tokens of 30 s, the SaaS Admin's refresh margin: every admin page refreshes the
    # session's tokens at the token endpoint (rotation included).
    return {"access_token_ttl": 30}


@pytest.fixture(scope="module")
def product(deployment: Deployment, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The README's product, registered as a second client: its address."""
    process = ProductProcess(tmp_path_factory.mktemp("product"))
    client = deployment.auth.register_client(
        "TeamSpace", process.redirect_uri, process.post_logout_redirect_uri
    )
    process.start(deployment.auth.base_url, client["clientId"], client["clientSecret"])
    try:
        yield process.base_url
    finally:
        process.stop()


@pytest.fixture
def tab(browser: Browser, deployment: Deployment, product: str) -> Iterator[Tab]:
    """A fresh browser (no cookies) that may cross the three origins."""
    tab = Tab(browser, deployment.saas.base_url, "sso", also=(deployment.auth.base_url, product))
    yield tab
    tab.close()


def sign_in_at_rozitech(
    tab: Tab, deployment: Deployment, email: str, password: str, label: str
) -> Page:
    """On the auth server's hosted sign-in page: e-mail, password, submit."""
    page = tab.page
    page.wait_for_url(f"{deployment.auth.base_url}/signin**")
    tab.screenshot(f"{label}-signin")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    with page.expect_navigation(wait_until="networkidle"):
        # By its name: the page also offers "Sign in with a passkey".
        page.get_by_role("button", name="Sign in", exact=True).click()
    return page


def admin_sign_in(tab: Tab, deployment: Deployment, email: str, password: str) -> Page:
    page = tab.visit("/admin/login/?next=/admin/", "admin-login")
    page.click("#sign-in-with-rozitech")
    return sign_in_at_rozitech(tab, deployment, email, password, "admin")


def product_page(tab: Tab, product: str, path: str, label: str) -> Page:
    page = tab.page
    page.goto(f"{product}{path}", wait_until="networkidle")
    tab.screenshot(label)
    return page


def silent_sign_in_is_refused(tab: Tab, product: str, label: str) -> None:
    """prompt=none with no single sign-on session: the provider answers login_required."""
    page = product_page(tab, product, "/login?silent=1", label)
    assert page.locator("#error").inner_text() == "login_required"
    # The product's 401 for it is the only error the browser saw.
    assert [error for error in tab.errors if "401" not in error] == []


@NEEDS_BROWSER
def test_admin_site_then_silent_product_then_logout_everywhere(
    tab: Tab, deployment: Deployment, product: str
) -> None:
    page = admin_sign_in(tab, deployment, deployment.staff_email, deployment.staff_password)
    assert page.url == f"{deployment.saas.base_url}/admin/"
    assert page.locator("#site-name").inner_text() == "Rozitech SaaS Admin"
    tab.screenshot("admin-signed-in")

    # The second product: no page at all, the browser's session at the auth server suffices.
    page = product_page(tab, product, "/login?silent=1", "product-silent")
    assert page.url == f"{product}/"
    assert page.locator("#email").inner_text() == deployment.staff_email

    # The admin site's logout goes through the provider's end_session_endpoint and back.
    tab.open("/admin/")
    with page.expect_navigation(url=back_at(deployment.saas.base_url, "/admin/login/")):
        page.locator("#logout-form button[type=submit]").click()
    page.wait_for_load_state("networkidle")
    tab.screenshot("admin-logged-out")
    assert page.locator("#sign-in-with-rozitech").is_visible()
    tab.assert_clean()

    # Everywhere: the single sign-on session is over, so is the admin session.
    silent_sign_in_is_refused(tab, product, "product-silent-after-logout")
    tab.page.goto(f"{deployment.saas.base_url}/admin/", wait_until="networkidle")
    assert "/admin/login/" in tab.page.url


@NEEDS_BROWSER
def test_the_readme_product_signs_in_and_out(
    tab: Tab, deployment: Deployment, product: str
) -> None:
    page = product_page(tab, product, "/", "product-anonymous")
    page.get_by_text("Sign in with Rozitech").click()
    page = sign_in_at_rozitech(
        tab, deployment, deployment.staff_email, deployment.staff_password, "product"
    )
    assert page.locator("#email").inner_text() == deployment.staff_email
    tab.screenshot("product-signed-in")
    with page.expect_navigation(url=back_at(product, "/")):
        page.get_by_role("button", name="Sign out").click()
    assert page.get_by_text("Sign in with Rozitech").is_visible()
    tab.assert_clean()
    silent_sign_in_is_refused(tab, product, "product-silent-signed-out")


@NEEDS_BROWSER
def test_no_admin_site_for_someone_not_staff(
    tab: Tab, deployment: Deployment, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=deployment.auth.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
    page = admin_sign_in(tab, deployment, email, PASSWORD)
    assert page.url.startswith(f"{deployment.saas.base_url}/admin/sso/callback/")
    assert (
        page.locator("#sso-error").inner_text() == "This account has no access to the admin site."
    )
    tab.screenshot("admin-not-staff")
    tab.page.goto(f"{deployment.saas.base_url}/admin/", wait_until="networkidle")
    assert "/admin/login/" in tab.page.url


@NEEDS_BROWSER
def test_the_admin_session_ends_with_the_auth_server_session(
    tab: Tab, deployment: Deployment
) -> None:
    admin_sign_in(tab, deployment, deployment.staff_email, deployment.staff_password)
    # Each page refreshes the tokens at the token endpoint (see the fixture) and stays in.
    for path in ("/admin/", "/admin/billing/plan/", "/admin/"):
        assert tab.visit(path, f"admin-refreshed-{path}").url == f"{deployment.saas.base_url}{path}"
    # Signed out of every session at the auth server (another device, say): the admin
    # site's next page is its login page.
    with httpx.Client(base_url=deployment.auth.base_url, timeout=30) as http:
        access = login(http, deployment.staff_email, deployment.staff_password)["accessToken"]
        http.post("/api/auth/logout-all", headers=bearer(access)).raise_for_status()
    tab.page.goto(f"{deployment.saas.base_url}/admin/", wait_until="networkidle")
    assert tab.page.url == f"{deployment.saas.base_url}/admin/login/?next=/admin/"
    tab.assert_clean()
