"""The protocol's refusals: what the spec says an authorization server must do with a bad
request, a replayed or expired code, a wrong secret or verifier, a missing session."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

import httpx
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7636 import create_s256_code_challenge

from tests.auth_server.helpers import PASSWORD, bearer, drain_feed, feed_cursor, verified_user
from tests.oidc.support import (
    REDIRECT_URI,
    Browser,
    Registered,
    callback_params,
    discovery,
    new_nonce,
    register,
    relying_party,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock
from tests.support.smtp import SmtpSink


def _authorize_url(server: AuthServerProcess, client_id: str, **params: str) -> str:
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid email",
        "state": "s-123",
        **params,
    }
    return f"{server.base_url}/oauth2/authorize?{urlencode(query)}"


def _code(
    server: AuthServerProcess, browser: Browser, client: Registered
) -> tuple[OAuth2Client, str, str]:
    """A signed-in browser's code for the client: (relying party, callback URL, verifier)."""
    rp = relying_party(client)
    verifier = new_nonce() * 3
    url, _ = rp.create_authorization_url(
        discovery(server)["authorization_endpoint"], code_verifier=verifier, nonce=new_nonce()
    )
    callback = browser.go(url)
    callback_params(callback)
    return rp, callback.headers["location"], verifier


def _signed_in_code(
    server: AuthServerProcess, browser: Browser, email: str
) -> tuple[Registered, str, str]:
    """A new first-party client, and a code (with its verifier) of a signed-in browser."""
    browser.sign_in(email, PASSWORD)
    client = register(server)
    _, callback, verifier = _code(server, browser, client)
    return client, _code_of(callback), verifier


def _token(server: AuthServerProcess, client: Registered, **form: str) -> httpx.Response:
    auth = (client.client_id, client.client_secret) if client.client_secret else None
    data: dict[str, Any] = {"grant_type": "authorization_code", "redirect_uri": REDIRECT_URI}
    if auth is None:
        data["client_id"] = client.client_id
    return httpx.post(f"{server.base_url}/oauth2/token", data={**data, **form}, auth=auth)


def _code_of(callback_url: str) -> str:
    return str(httpx.URL(callback_url).params["code"])


def test_unknown_client_or_unregistered_redirect_uri_is_a_page_not_a_redirect(
    server: AuthServerProcess,
) -> None:
    client = register(server)
    for url in (
        _authorize_url(server, "no-such-client"),
        _authorize_url(server, client.client_id, redirect_uri="https://evil.example/callback"),
        # Exact match: not even a path below the registered one.
        _authorize_url(server, client.client_id, redirect_uri=REDIRECT_URI + "/more"),
    ):
        response = httpx.get(url)
        assert response.status_code == 400
        assert "location" not in response.headers
        assert "text/html" in response.headers["content-type"]


def test_public_client_must_use_pkce_s256(server: AuthServerProcess, browser: Browser) -> None:
    client = register(server, public=True)
    missing = httpx.get(_authorize_url(server, client.client_id))
    assert callback_params(missing) == {
        "error": "invalid_request",
        "error_description": "A public client must send a PKCE 'code_challenge'",
        "state": "s-123",
    }
    verifier = new_nonce() * 3
    plain = httpx.get(_authorize_url(server, client.client_id, code_challenge=verifier))
    assert callback_params(plain)["error"] == "invalid_request"
    s256 = create_s256_code_challenge(verifier)
    accepted = httpx.get(
        _authorize_url(server, client.client_id, code_challenge=s256, code_challenge_method="S256")
    )
    # Valid: on to the sign-in page (no browser session yet).
    assert accepted.status_code == 303 and accepted.headers["location"].startswith("/signin")


def test_missing_or_wrong_verifier_is_refused(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    client, code, verifier = _signed_in_code(server, browser, email)
    missing = _token(server, client, code=code)
    assert missing.status_code == 400 and missing.json()["error"] == "invalid_request"
    wrong = _token(server, client, code=code, code_verifier=new_nonce() * 3)
    assert wrong.status_code == 400 and wrong.json()["error"] == "invalid_grant"
    right = _token(server, client, code=code, code_verifier=verifier)
    assert right.status_code == 200


def test_reused_code_is_refused_and_revokes_what_it_issued(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    client, code, verifier = _signed_in_code(server, browser, email)
    first = _token(server, client, code=code, code_verifier=verifier)
    assert first.status_code == 200
    tokens = first.json()
    cursor = feed_cursor(httpx.Client(base_url=server.base_url), server)
    replay = _token(server, client, code=code, code_verifier=verifier)
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"
    # The first exchange's tokens are dead: the code may have leaked (RFC 6749 4.1.2).
    me = httpx.get(f"{server.base_url}/api/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    refresh = _token(
        server, client, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
    )
    assert refresh.status_code == 400
    events, _ = drain_feed(httpx.Client(base_url=server.base_url), server, cursor)
    assert [e["reason"] for e in events] == ["code_reused"]


def test_expired_code_is_refused(
    server: AuthServerProcess, browser: Browser, email: str, clock: TestClock
) -> None:
    client, code, verifier = _signed_in_code(server, browser, email)
    clock.advance(61)  # OIDC_CODE_TTL is 60 seconds
    expired = _token(server, client, code=code, code_verifier=verifier)
    assert expired.status_code == 400 and expired.json()["error"] == "invalid_grant"


def test_wrong_client_secret_is_refused(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    client, code, verifier = _signed_in_code(server, browser, email)
    impostor = Registered(client.client_id, "not-the-secret")
    refused = _token(server, impostor, code=code, code_verifier=verifier)
    assert refused.status_code == 401 and refused.json()["error"] == "invalid_client"
    # A confidential client cannot skip its secret by posing as public.
    bare = _token(
        server,
        Registered(client.client_id, None),
        code=code,
        code_verifier=verifier,
    )
    assert bare.status_code in (400, 401) and bare.json()["error"] == "invalid_client"


def test_prompt_none_without_a_session_is_login_required(server: AuthServerProcess) -> None:
    client = register(server)
    response = httpx.get(_authorize_url(server, client.client_id, prompt="none"))
    params = callback_params(response)
    assert params["error"] == "login_required" and params["state"] == "s-123"


def test_prompt_login_asks_for_the_password_again(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    browser.sign_in(email, PASSWORD)
    client = register(server)
    url = _authorize_url(
        server,
        client.client_id,
        prompt="login",
        code_challenge=create_s256_code_challenge(new_nonce() * 3),
        code_challenge_method="S256",
    )
    page = browser.go(url)
    assert page.url.path == "/signin" and page.url.params["force"] == "1"
    # Signing in again comes back with a code, and does not ask a third time.
    callback = browser.submit(
        "/signin", page, email=email, password=PASSWORD, next=page.url.params["next"], force="1"
    )
    assert "code" in callback_params(callback)


def test_signing_out_of_the_browser_ends_the_clients_sessions(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    client, code, verifier = _signed_in_code(server, browser, email)
    tokens = _token(server, client, code=code, code_verifier=verifier).json()
    cursor = feed_cursor(httpx.Client(base_url=server.base_url), server)
    # The sign-out button (any hosted page's CSRF token will do; the sign-in page has one).
    browser.submit("/signout", browser.go("/signin?force=1"))
    me = httpx.get(f"{server.base_url}/api/auth/me", headers=bearer(tokens["access_token"]))
    assert me.status_code == 401
    events, _ = drain_feed(httpx.Client(base_url=server.base_url), server, cursor)
    # The browser session's event and the client session's: resource servers see both.
    assert len({e["sid"] for e in events}) == 2


def test_logout_without_id_token_asks_first(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    browser.sign_in(email, PASSWORD)
    client = register(server)
    # A link from anywhere (no ID token): a page that asks, and nothing ended yet.
    page = browser.http.get(
        "/oauth2/logout", params={"post_logout_redirect_uri": "https://evil.example/"}
    )
    assert page.status_code == 200 and "Sign out of Rozitech?" in page.text
    _code(server, browser, client)  # still signed in: a code, no password asked
    done = browser.submit("/oauth2/logout", page, confirm="yes")
    # Signed out, and never sent to the unregistered address.
    assert done.status_code == 200 and "You are signed out" in done.text
    url, _ = relying_party(client).create_authorization_url(
        discovery(server)["authorization_endpoint"], code_verifier="v" * 43
    )
    assert browser.go(url).url.path == "/signin"


def test_overlong_nonce_is_refused_not_stored(server: AuthServerProcess) -> None:
    client = register(server, public=True)
    response = httpx.get(
        _authorize_url(
            server,
            client.client_id,
            nonce="n" * 300,
            code_challenge=create_s256_code_challenge("v" * 43),
            code_challenge_method="S256",
        )
    )
    assert callback_params(response)["error"] == "invalid_request"


def test_logout_with_another_users_id_token_asks_first(
    server: AuthServerProcess, smtp_sink: SmtpSink, browser: Browser, email: str
) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        other_email = verified_user(http, smtp_sink)
    other = Browser(server)
    try:
        client, code, verifier = _signed_in_code(server, other, other_email)
        id_token = _token(server, client, code=code, code_verifier=verifier).json()["id_token"]
    finally:
        other.close()
    browser.sign_in(email, PASSWORD)
    # Someone else's ID token in a link: this browser's user is asked, nothing ends yet.
    page = browser.http.get("/oauth2/logout", params={"id_token_hint": id_token})
    assert page.status_code == 200 and "Sign out of Rozitech?" in page.text
    _code(server, browser, client)  # still signed in
