"""Every page of the auth server, opened in Chromium: nothing loaded from another origin,
no console error, and each page does its job (Swagger UI lists the operations, the reset
page sets a password, the invitation page joins an organization)."""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
import pytest
from fastapi import APIRouter
from fastapi.routing import APIRoute

from auth_server import api
from tests.auth_server.helpers import PASSWORD, login, new_email, verified_user
from tests.auth_server.organization_helpers import invited, members, person
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import reset_token
from tests.support.smtp import SmtpSink, verification_code

if TYPE_CHECKING:
    from playwright.sync_api import Browser

# The pages this module opens; a new page must be added here (see the first test).
PAGES = {"/api-docs", "/reset-password", "/accept-invitation"}
NEW_PASSWORD = "a brand new passphrase"


@pytest.fixture
def tab(browser: Browser, auth_server: AuthServerProcess) -> Iterator[Tab]:
    tab = Tab(browser, auth_server.base_url, "auth")
    yield tab
    tab.close()


def test_every_page_is_covered() -> None:
    # Pages are the GET routes left out of the OpenAPI document (the API is all in it), in
    # every router of auth_server.api (the package the app's routes come from).
    routers = [
        router
        for module in pkgutil.iter_modules(api.__path__, f"{api.__name__}.")
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


@NEEDS_BROWSER
def test_reset_page_without_a_token(tab: Tab) -> None:
    page = tab.visit("/reset-password")
    assert page.locator("#status").inner_text() == "This link has no reset token."


@NEEDS_BROWSER
def test_reset_page_sets_the_password(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        email = verified_user(http, smtp_sink)
        http.post("/api/auth/forgot-password", json={"email": email}).raise_for_status()
        token = reset_token(smtp_sink.wait_for(email, count=2))
        page = tab.open(f"/reset-password#token={token}")
        page.fill("#password", NEW_PASSWORD)
        page.fill("#confirm", NEW_PASSWORD)
        page.click("button[type=submit]")
        page.locator("#reset").wait_for(state="hidden")
        tab.screenshot("reset-password-done")
        tab.assert_clean()
        # The token left the address bar, and the new password works.
        assert "token" not in page.url
        assert login(http, email, NEW_PASSWORD)["accessToken"]


@NEEDS_BROWSER
def test_invitation_page_without_a_token(tab: Tab) -> None:
    page = tab.visit("/accept-invitation")
    assert page.locator("#status").inner_text() == "This link has no invitation token."
    assert page.locator("#signin").is_hidden() and page.locator("#signup").is_hidden()


@NEEDS_BROWSER
def test_invitation_page_signs_in_and_joins(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        owner, guest = person(http, smtp_sink), person(http, smtp_sink)
        token = invited(http, smtp_sink, owner, owner.own_org, guest.email)
        page = tab.open(f"/accept-invitation#token={token}")
        tab.screenshot("accept-invitation")
        page.fill("#email", guest.email)
        page.fill("#password", PASSWORD)
        page.click("#signin button[type=submit]")
        page.locator("#signin").wait_for(state="hidden")
        assert page.locator("#status").inner_text() == "You joined Acme Ltd as member."
        tab.screenshot("accept-invitation-joined")
        tab.assert_clean()
        assert "token" not in page.url
        assert members(http, owner, owner.own_org)[guest.user_id] == "member"


@NEEDS_BROWSER
def test_invitation_page_signs_up_and_joins(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url) as http:
        owner, email = person(http, smtp_sink), new_email()
        token = invited(http, smtp_sink, owner, owner.own_org, email)
        page = tab.open(f"/accept-invitation#token={token}")
        page.fill("#first-name", "Nia")
        page.fill("#last-name", "New")
        page.fill("#new-email", email)
        page.fill("#new-password", PASSWORD)
        page.click("#signup button[type=submit]")
        page.locator("#verify").wait_for(state="visible")
        page.fill("#code", verification_code(smtp_sink.wait_for(email, 2)))
        page.click("#verify button[type=submit]")
        page.locator("#verify").wait_for(state="hidden")
        tab.screenshot("accept-invitation-signed-up")
        tab.assert_clean()
        session = login(http, email)
        assert session["organization"]["id"] == owner.own_org
        assert session["user"]["firstName"] == "Nia"
