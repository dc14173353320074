"""The consent page of a third-party client, in Chromium: the user reads what the client
asks for, allows it, and the browser goes on to the client with a code; the next time the
consent is remembered."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.auth_server.helpers import PASSWORD, verified_user
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.oidc.support import REDIRECT_URI, new_nonce, register
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Browser


@pytest.fixture
def tab(browser: Browser, auth_server: AuthServerProcess) -> Iterator[Tab]:
    tab = Tab(browser, auth_server.base_url, "oidc")
    yield tab
    tab.close()


def _authorize_path(client_id: str, state: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid profile email",
        "state": state,
        "nonce": new_nonce(),
        "code_challenge": create_s256_code_challenge(new_nonce() * 3),
        "code_challenge_method": "S256",
    }
    return f"/oauth2/authorize?{urlencode(query)}"


@NEEDS_BROWSER
def test_consent_for_a_third_party_client(
    tab: Tab, auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=auth_server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
    client = register(auth_server, first_party=False, name="Partner Insurance")
    page = tab.open(_authorize_path(client.client_id, "first"))
    # Not signed in: the hosted sign-in page, then the consent page.
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state("networkidle")
    assert page.get_by_role("heading").inner_text() == (
        "Partner Insurance wants to use your Rozitech account"
    )
    assert page.get_by_text("See your e-mail address").is_visible()
    tab.screenshot("consent")
    # Keyboard only: the Allow button is reachable and works with Enter.
    allow = page.get_by_role("button", name="Allow")
    allow.focus()
    with page.expect_request(lambda request: request.url.startswith(REDIRECT_URI)) as sent:
        page.keyboard.press("Enter")
    params = parse_qs(urlsplit(sent.value.url).query)
    assert params["state"] == ["first"] and params["code"]
    # The only request that left the auth server is the redirect to the client.
    assert all(url.startswith(REDIRECT_URI) for url in tab.foreign)
    tab.foreign.clear()
    # Remembered: the same client and scopes go straight on.
    from playwright.sync_api import Error as NavigationError

    # The navigation ends at the client, which the tab refuses to reach: an error here.
    with (
        tab.page.expect_request(lambda request: request.url.startswith(REDIRECT_URI)) as again,
        pytest.raises(NavigationError),
    ):
        tab.page.goto(_authorize_path(client.client_id, "second"))
    assert parse_qs(urlsplit(again.value.url).query)["state"] == ["second"]
    tab.foreign.clear()
    assert not tab.errors, tab.errors
