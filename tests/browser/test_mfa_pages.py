"""Two-step verification on the hosted pages, in Chromium: set up an authenticator app on
/account (the code computed by pyotp from the key the page shows), sign out, sign in with
password and code, then with a recovery code. Screenshots go to data/screenshots/mfa-*.png.

An auth server of this module's own, with a movable clock: each code is accepted once, so
the test moves time on by one 30-second step between codes instead of waiting for it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, bearer, login, verified_user
from tests.auth_server.mfa_helpers import totp_code
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

CODE_LABEL = "Code from your authenticator app"


@pytest.fixture(scope="module")
def running(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    with clocked_server(
        tmp_path_factory.mktemp("mfa-pages"), smtp_sink.port, rate_limit_per_ip="100000/minute"
    ) as pair:
        yield pair


@pytest.fixture
def tab(browser: Browser, running: tuple[AuthServerProcess, TestClock]) -> Iterator[Tab]:
    tab = Tab(browser, running[0].base_url, "mfa")
    yield tab
    tab.close()


def submit(page: Page, label: str) -> None:
    """Clicks the button and waits for the page the post leads to."""
    with page.expect_navigation():
        page.get_by_role("button", name=label, exact=True).click()


def password_step(tab: Tab, email: str, label: str) -> Page:
    page = tab.visit("/signin?next=/account", f"{label}-signin")
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    submit(page, "Sign in")
    return page


def sign_out(tab: Tab) -> None:
    page = tab.page
    # The account page's own button (the sessions table's ones name their session).
    submit(page, "Sign out")
    assert page.url.endswith("/signin?notice=signed_out")


@NEEDS_BROWSER
def test_enrol_then_sign_in_with_a_code_and_with_a_recovery_code(
    tab: Tab, running: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = running
    with httpx.Client(base_url=server.base_url, timeout=30) as api:
        email = verified_user(api, smtp_sink)

    # Signed in with the password: the account page offers two-step verification.
    page = password_step(tab, email, "first")
    assert page.url.endswith("/account")
    page.locator("#two-step").scroll_into_view_if_needed()
    tab.screenshot("account-two-step-off")
    submit(page, "Set up an authenticator app")
    assert page.locator(".qr svg").is_visible()
    secret = page.locator("#totp-secret").inner_text()
    tab.screenshot("setup")

    # A wrong code first: the error is on the field.
    page.get_by_label(CODE_LABEL).fill("000000" if totp_code(secret, clock) != "000000" else "1")
    submit(page, "Turn on two-step verification")
    tab.refused(401)
    assert page.locator("#code-error").inner_text() == "The code is not correct"
    assert page.locator("#totp-secret").inner_text() == secret
    tab.screenshot("setup-wrong-code")
    page.get_by_label(CODE_LABEL).fill(totp_code(secret, clock))
    submit(page, "Turn on two-step verification")
    codes = page.locator("#recovery-codes code").all_inner_texts()
    assert len(codes) == 10
    tab.screenshot("recovery-codes")
    with page.expect_navigation():
        page.get_by_role("link", name="I have saved them, continue").click()
    assert "Recovery codes left: 10." in page.locator("#two-step + p").inner_text()
    tab.screenshot("account-two-step-on")
    tab.assert_clean()
    sign_out(tab)

    # Password, then the code the app shows a step later.
    clock.advance(30)
    page = password_step(tab, email, "code")
    assert "/signin/mfa" in page.url
    tab.screenshot("code-step")
    page.get_by_label(CODE_LABEL).fill(totp_code(secret, clock))
    submit(page, "Verify")
    assert page.url.endswith("/account")
    tab.assert_clean()
    sign_out(tab)

    # Password, then a recovery code.
    page = password_step(tab, email, "recovery")
    with page.expect_navigation():
        page.get_by_role("link", name="Use a recovery code instead").click()
    tab.screenshot("recovery-step")
    page.get_by_label("Recovery code").fill(codes[0])
    submit(page, "Verify")
    assert page.url.endswith("/account")
    assert "Recovery codes left: 9." in page.locator("#two-step + p").inner_text()
    tab.assert_clean()


@NEEDS_BROWSER
def test_a_policy_has_a_member_enrol_while_signing_in(
    tab: Tab, running: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = running
    with httpx.Client(base_url=server.base_url, timeout=30) as api:
        email = verified_user(api, smtp_sink)
        owner = login(api, email)
        policy = api.patch(
            f"/api/auth/organizations/{owner['organization']['id']}",
            json={"mfaRequired": True},
            headers=bearer(owner["accessToken"]),
        )
        assert policy.status_code == 200, policy.text

    page = password_step(tab, email, "policy")
    assert "/signin/mfa/setup" in page.url
    assert page.get_by_text("Your organization requires two-step verification").is_visible()
    tab.screenshot("policy-setup")
    page.get_by_label(CODE_LABEL).fill(totp_code(page.locator("#totp-secret").inner_text(), clock))
    submit(page, "Turn on two-step verification")
    assert page.locator("#recovery-codes code").count() == 10
    tab.screenshot("policy-recovery-codes")
    with page.expect_navigation():
        page.get_by_role("link", name="I have saved them, continue").click()
    assert page.url.endswith("/account")
    tab.assert_clean()
