""" "Sign in with Rozitech" on the admin site, up to the provider and back, against the real
auth server: the authorization request (PKCE S256, state, nonce, exact redirect URI), and
the callbacks that must sign nobody in (foreign state, the provider's error, a forged code).
The whole journey through the hosted sign-in page is in tests/browser/test_sso.py."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from accounts import oidc
from accounts.signin import NEXT_KEY
from tests.support.auth_process import AuthServerProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]


@pytest.fixture(scope="module")
def registered(auth_server: AuthServerProcess) -> tuple[str, str]:
    """The SaaS Admin's client at the session's auth server: (client id, secret)."""
    created = auth_server.register_client(
        "SaaS Admin (sign-in tests)",
        "http://testserver/admin/sso/callback/",
        "http://testserver/admin/login/",
    )
    return created["clientId"], created["clientSecret"]


@pytest.fixture(autouse=True)
def client_settings(settings: SettingsWrapper, registered: tuple[str, str]) -> Iterator[None]:
    settings.SAAS_ADMIN_OIDC_CLIENT_ID, settings.SAAS_ADMIN_OIDC_CLIENT_SECRET = registered
    oidc.reset()
    yield
    oidc.reset()


def authorization_request(browser: Client, next_url: str = "/admin/") -> dict[str, str]:
    response = browser.get("/admin/sso/login/", {"next": next_url})
    assert response.status_code == 302, response.content
    location = urlsplit(response["Location"])
    query = {key: values[0] for key, values in parse_qs(location.query).items()}
    query["endpoint"] = f"{location.scheme}://{location.netloc}{location.path}"
    return query


def test_the_login_page_shows_the_button() -> None:
    page = Client().get("/admin/login/", {"next": "/admin/billing/"}).content.decode()
    assert 'id="sign-in-with-rozitech"' in page
    assert 'href="/admin/sso/login/?next=/admin/billing/"' in page
    # The password form is still there.
    assert 'id="login-form"' in page


def test_no_client_no_button(settings: SettingsWrapper) -> None:
    settings.SAAS_ADMIN_OIDC_CLIENT_ID = ""
    browser = Client()
    assert "sign-in-with-rozitech" not in browser.get("/admin/login/").content.decode()
    response = browser.get("/admin/sso/login/")
    assert response.status_code == 302 and response["Location"] == "/admin/login/"


def test_the_authorization_request(auth_server: AuthServerProcess) -> None:
    discovery = httpx.get(f"{auth_server.base_url}/.well-known/openid-configuration").json()
    browser = Client()
    first = authorization_request(browser)
    assert first["endpoint"] == discovery["authorization_endpoint"]
    assert first["response_type"] == "code"
    assert first["client_id"] == oidc.provider().client_id
    assert first["redirect_uri"] == "http://testserver/admin/sso/callback/"
    assert set(first["scope"].split()) == {"openid", "profile", "email", "offline_access"}
    # PKCE with S256 (a 43-character base64url SHA-256), and fresh values on every request.
    assert first["code_challenge_method"] == "S256" and len(first["code_challenge"]) == 43
    second = authorization_request(browser)
    for key in ("state", "nonce", "code_challenge"):
        assert first[key] and first[key] != second[key], key


def test_an_address_elsewhere_is_not_where_the_sign_in_ends() -> None:
    browser = Client()
    authorization_request(browser, "https://evil.example/admin/")
    assert browser.session[NEXT_KEY] == "/admin/"
    authorization_request(browser, "/admin/billing/plan/")
    assert browser.session[NEXT_KEY] == "/admin/billing/plan/"


def refused_callback(browser: Client, **params: str) -> str:
    response = browser.get("/admin/sso/callback/", params)
    page = response.content.decode()
    assert response.status_code == 400, page
    assert 'id="sso-error"' in page and "did not complete" in page
    # The password form on that page posts to the login page, not to the callback.
    assert 'action="/admin/login/"' in page
    assert SESSION_KEY not in browser.session
    return page


def test_a_foreign_state_signs_nobody_in() -> None:
    browser = Client()
    authorization_request(browser)
    refused_callback(browser, code="anything", state="a-state-this-browser-never-sent")


def test_a_state_is_good_for_one_callback_only() -> None:
    browser = Client()
    state = authorization_request(browser)["state"]
    # A forged code: the token endpoint refuses it (and the state is used up by then).
    refused_callback(browser, code="forged-code", state=state)
    refused_callback(browser, code="forged-code", state=state)


def test_an_error_from_the_provider_signs_nobody_in() -> None:
    browser = Client()
    state = authorization_request(browser)["state"]
    page = refused_callback(
        browser, error="access_denied", error_description="Call +1 555 0100 now", state=state
    )
    # The error code is shown; text anyone can put in the link is not.
    assert "(access_denied)" in page and "555" not in page
    state = authorization_request(browser)["state"]
    page = refused_callback(browser, error="Your account is locked, call us", state=state)
    assert "(invalid_response)" in page and "call us" not in page
