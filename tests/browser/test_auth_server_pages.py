"""Every page of the auth server, opened in Chromium: nothing loaded from another origin,
no console error, and each page does its job (Swagger UI lists the operations; the hosted
pages sign up, verify, sign in, reset a password and manage the account, by mouse and by
keyboard alone). Screenshots of each page go to data/screenshots/auth-*.png."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from auth_server import api, web
from tests.auth_server.helpers import PASSWORD, login, new_email, verified_user
from tests.auth_server.organization_helpers import invited, members, person
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink, body_text, verification_code

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# The pages this module (or the one named) opens; a new page must be added here (see the
# first test).
PAGES = {
    "/api-docs",
    "/signin",
    "/signup",
    "/verify-email",
    "/forgot-password",
    "/reset-password",
    "/account",
    "/accept-invitation",
    # Two-step verification's pages: opened in test_mfa_pages.py.
    "/signin/mfa",
    "/signin/mfa/setup",
    # The passkey second step: opened in test_passkeys.py.
    "/signin/mfa/passkey",
}
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def tab(browser: Browser, auth_server: AuthServerProcess) -> Iterator[Tab]:
    tab = Tab(browser, auth_server.base_url, "auth")
    yield tab
    tab.close()


def test_every_page_is_covered() -> None:
    # Pages are the GET routes left out of the OpenAPI document (the API is all in it), in
    # every router of auth_server.api and auth_server.web (the packages of the app's routes).
    routers = [
        router
        for package in (api, web)
        for module in pkgutil.iter_modules(package.__path__, f"{package.__name__}.")
        for router in vars(importlib.import_module(module.name)).values()
        if isinstance(router, APIRouter)
    ]
    pages = {
        route.path
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute)
        and "GET" in (route.methods or ())
        and not route.include_in_schema
    }
    assert pages == PAGES


@NEEDS_BROWSER
def test_api_docs_render_offline(tab: Tab) -> None:
    page = tab.visit("/api-docs")
    operations = page.locator(".opblock-summary-path")
    operations.first.wait_for()
    paths = operations.all_inner_texts()
    assert "/api/auth/login" in paths and "/api/auth/me" in paths
    assert page.locator(".info .title").inner_text().startswith("Rozitech Auth Server")
    # Opening an operation renders its details from the local bundle as well.
    page.locator("#operations-auth-login_api_auth_login_post").click()
    page.locator(".opblock-body").first.wait_for()
    tab.screenshot("api-docs-operation")
    tab.assert_clean()


def submit(page: Page, label: str) -> None:
    """Clicks the form's button and waits for the page the post leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=label, exact=True).click()


def sign_in(tab: Tab, email: str, password: str = PASSWORD) -> Page:
    page = tab.visit("/signin", "signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    submit(page, "Sign in")
    return page


@NEEDS_BROWSER
def test_sign_up_verify_and_sign_in(tab: Tab, smtp_sink: SmtpSink) -> None:
    email = new_email()
    page = tab.visit("/signup", "signup")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill("short")
    page.get_by_label("First name").fill("Ann")
    page.get_by_label("Last name").fill("Bee")
    page.get_by_label("Company").fill("Acme Ltd")
    page.get_by_label("teamspace").check()
    submit(page, "Create account")
    # The policy's answer, tied to the password field and read out with it.
    password = page.get_by_label("Password", exact=True)
    assert password.get_attribute("aria-invalid") == "true"
    assert "password-error" in (password.get_attribute("aria-describedby") or "")
    tab.screenshot("signup-errors")
    tab.refused(400)
    password.fill(PASSWORD)
    submit(page, "Create account")
    assert page.url.split("?")[0].endswith("/verify-email")
    tab.screenshot("verify-email")
    page.get_by_label("Verification code").fill(verification_code(smtp_sink.wait_for(email)))
    submit(page, "Verify")
    assert "Your email address is verified" in page.get_by_role("status").inner_text()
    tab.screenshot("signin-verified")
    assert page.get_by_label("Email").input_value() == email
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    submit(page, "Sign in")
    assert page.url.endswith("/account")
    assert f"Signed in as {email}" in page.inner_text("main")
    tab.screenshot("account")
    tab.assert_clean()


@NEEDS_BROWSER
def test_forgot_and_reset_through_the_mailed_link(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        email = verified_user(http, smtp_sink)
        page = tab.visit("/forgot-password", "forgot-password")
        page.get_by_label("Email").fill(email)
        submit(page, "Send the link")
        assert "a password reset link is on its way" in page.get_by_role("status").inner_text()
        tab.screenshot("forgot-password-sent")
        message = smtp_sink.wait_for(email, count=2)
        link = next(line for line in body_text(message).splitlines() if "token=" in line)
        page = tab.visit(link.removeprefix(auth_server.base_url), "reset-password")
        # The token moved from the fragment into the form, and out of the address bar.
        assert "token" not in page.url and page.locator("#token").input_value()
        page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
        page.get_by_label("Repeat the new password").fill(NEW_PASSWORD)
        submit(page, "Set the password")
        assert "Your password was reset" in page.get_by_role("status").inner_text()
        tab.assert_clean()
        assert login(http, email, NEW_PASSWORD)["accessToken"]
    assert sign_in(tab, email, NEW_PASSWORD).url.endswith("/account")


@NEEDS_BROWSER
def test_keyboard_only_sign_in(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        email = verified_user(http, smtp_sink)
    page = tab.visit("/signin?next=/account", "signin-keyboard")
    keyboard = page.keyboard
    # The e-mail field has the focus on arrival; Tab goes on to the password, then the button.
    assert page.evaluate("document.activeElement.id") == "email"
    keyboard.type(email)
    keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "password"
    keyboard.type("a wrong password")
    with page.expect_navigation():
        keyboard.press("Enter")
    # The refusal is announced, and the focus is back in the form.
    assert "Invalid email or password" in page.get_by_role("alert").inner_text()
    tab.screenshot("signin-refused")
    tab.refused(401)
    page.get_by_label("Password", exact=True).focus()
    keyboard.type(PASSWORD)
    keyboard.press("Tab")
    assert page.evaluate("document.activeElement.tagName") == "BUTTON"
    with page.expect_navigation():
        keyboard.press("Enter")
    assert page.url.endswith("/account")
    tab.assert_clean()


@NEEDS_BROWSER
def test_account_page_actions(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        email = verified_user(http, smtp_sink)
        login(http, email)  # an app's session, listed beside the browser's
    page = sign_in(tab, email)
    page.get_by_label("First name").fill("Zoë")
    page.get_by_label("Phone (optional)").fill("+27 21 555 0100")
    submit(page, "Save profile")
    assert "Your profile was saved" in page.get_by_role("status").inner_text()
    assert page.get_by_label("First name").input_value() == "Zoë"
    page.get_by_label("Current password").fill("not my password")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    submit(page, "Change password")
    assert "Incorrect password" in page.inner_text("#currentPassword-error")
    tab.screenshot("account-password-refused")
    tab.refused(400)
    page.get_by_label("Current password").fill(PASSWORD)
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    submit(page, "Change password")
    assert "Your password was changed" in page.get_by_role("status").inner_text()
    # The app's session ended with the change; this browser's stays, and is marked.
    rows = page.locator("tbody tr")
    assert rows.count() == 1 and "This browser" in rows.first.inner_text()
    tab.screenshot("account-sessions")
    submit(page, "Sign out everywhere")
    assert page.url.split("?")[0].endswith("/signin")
    assert "You are signed out" in page.get_by_role("status").inner_text()
    tab.screenshot("signed-out")
    tab.assert_clean()


@NEEDS_BROWSER
def test_error_page(tab: Tab) -> None:
    page = tab.visit("/signin", "signin")
    # A form whose CSRF cookie is gone (another tab signed out, cookies cleared...).
    tab.context.clear_cookies()
    page.get_by_label("Email").fill("someone@example.com")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    submit(page, "Sign in")
    assert "csrf_failed" in page.inner_text("main")
    tab.screenshot("error")
    tab.refused(403)
    tab.assert_clean()


@NEEDS_BROWSER
def test_join_signed_in_through_the_mailed_link(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        owner = person(http, smtp_sink, company="Browser Invite Co")
        guest = person(http, smtp_sink)
        token = invited(http, smtp_sink, owner, owner.own_org, guest.email, "admin")
        sign_in(tab, guest.email)
        # The mail's link: the script moves the fragment's token into the review form and
        # sends it, so the page asks "Join <organization> as <role>".
        page = tab.visit(f"/accept-invitation#token={token}", "accept-invitation-review")
        assert "token" not in page.url
        heading = page.get_by_role("heading", level=1).inner_text()
        assert heading == "Join Browser Invite Co as admin"
        submit(page, "Join Browser Invite Co")
        assert page.url.endswith("/account?notice=joined")
        assert "You joined the organization." in page.get_by_role("status").inner_text()
        organizations = page.locator("#organizations + ul").inner_text()
        assert "Browser Invite Co · admin" in organizations
        tab.screenshot("accept-invitation-joined")
        tab.assert_clean()
        assert members(http, owner, owner.own_org)[guest.user_id] == "admin"


@NEEDS_BROWSER
def test_sign_up_with_the_mailed_invitation(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = new_email()
    with httpx.Client(base_url=auth_server.base_url) as http:
        owner = person(http, smtp_sink, company="Browser Signup Co")
        token = invited(http, smtp_sink, owner, owner.own_org, email)
        page = tab.visit(f"/accept-invitation#token={token}", "accept-invitation")
        assert "token" not in page.url
        submit(page, "Create an account and join")
        tab.screenshot("accept-invitation-signup")
        assert page.get_by_label("Company").count() == 0
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_label("First name").fill("Iva")
        page.get_by_label("Last name").fill("Vited")
        submit(page, "Create account")
        assert page.url.split("?")[0].endswith("/verify-email")
        code = verification_code(smtp_sink.wait_for(email, count=2))
        page.get_by_label("Verification code").fill(code)
        submit(page, "Verify")
        tab.assert_clean()
        session = login(http, email)
        assert session["organization"]["id"] == owner.own_org
