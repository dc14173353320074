"""The consent page of a client not marked first-party: asked once per user and scopes,
protected against cross-site posts, and a "no" goes back to the client as access_denied."""

from __future__ import annotations

import re

import httpx

from tests.auth_server.helpers import PASSWORD
from tests.oidc.support import Browser, callback_params, discovery, register, relying_party
from tests.support.auth_process import AuthServerProcess


def _consent_page(server: AuthServerProcess, browser: Browser) -> tuple[httpx.Response, str]:
    client = register(server, first_party=False, name="Partner")
    rp = relying_party(client)
    url, state = rp.create_authorization_url(
        discovery(server)["authorization_endpoint"], code_verifier="v" * 43, nonce="n-1"
    )
    page = browser.go(url)
    assert page.status_code == 200 and "Partner wants to use your Rozitech account" in page.text
    return page, state


def _fields(page: httpx.Response) -> dict[str, str]:
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', page.text))


def test_consent_form_without_csrf_token_is_refused(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    browser.sign_in(email, PASSWORD)
    page, _ = _consent_page(server, browser)
    fields = _fields(page)
    del fields["csrf_token"]
    refused = browser.http.post("/oauth2/authorize", data={**fields, "decision": "allow"})
    assert refused.status_code == 403 and "location" not in refused.headers
    forged = browser.http.post(
        "/oauth2/authorize", data={**fields, "csrf_token": "x" * 43, "decision": "allow"}
    )
    assert forged.status_code == 403


def test_deny_goes_back_as_access_denied(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    browser.sign_in(email, PASSWORD)
    page, state = _consent_page(server, browser)
    denied = browser.http.post("/oauth2/authorize", data={**_fields(page), "decision": "deny"})
    params = callback_params(denied)
    assert params["error"] == "access_denied" and params["state"] == state


def test_prompt_none_cannot_skip_consent(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    browser.sign_in(email, PASSWORD)
    client = register(server, first_party=False)
    url, state = relying_party(client).create_authorization_url(
        discovery(server)["authorization_endpoint"], code_verifier="v" * 43, prompt="none"
    )
    params = callback_params(browser.go(url))
    assert params["error"] == "consent_required" and params["state"] == state
