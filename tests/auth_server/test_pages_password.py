"""Forgot and reset password through the pages, the link read from the real mail."""

from __future__ import annotations

import httpx

from tests.auth_server.helpers import PASSWORD, bearer, login, verified_user
from tests.auth_server.pages import browser, csrf_of, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import reset_token
from tests.support.smtp import SmtpSink, body_text

NEW_PASSWORD = "a brand new passphrase"


def test_forgot_then_reset_through_the_mailed_link(
    auth_server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    tokens = login(client, email)
    with browser(auth_server) as http:
        assert sign_in(http, email, PASSWORD).status_code == 303
        asked = post_form(http, "/forgot-password", email=email)
        unknown = post_form(http, "/forgot-password", email=f"nobody-{email}")
        # The same answer whether or not the account exists.
        assert asked.status_code == unknown.status_code == 303
        assert asked.headers["location"] == unknown.headers["location"]
        message = smtp_sink.wait_for(email, count=2)
        link = next(line for line in body_text(message).splitlines() if "token=" in line)
        assert link.startswith(f"{auth_server.base_url}/reset-password#token=")
        token = reset_token(message)

        page = http.get("/reset-password")
        assert page.headers["cache-control"] == "no-store"
        # The page's only script is its own file (it moves the fragment's token in).
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<script>" not in page.text and 'src="/static/reset-token.js"' in page.text
        differ = http.post(
            "/reset-password",
            data={
                "csrf_token": csrf_of(page),
                "token": token,
                "password": NEW_PASSWORD,
                "confirm": "something else",
            },
        )
        assert differ.status_code == 400 and 'id="confirm-error"' in differ.text
        done = http.post(
            "/reset-password",
            data={
                "csrf_token": csrf_of(page),
                "token": token,
                "password": NEW_PASSWORD,
                "confirm": NEW_PASSWORD,
            },
        )
        assert done.status_code == 303 and done.headers["location"] == "/signin?notice=reset"
        # Every session ended, this browser's too.
        assert http.get("/account").status_code == 303
        again = post_form(
            http, "/reset-password", token=token, password=NEW_PASSWORD, confirm=NEW_PASSWORD
        )
        assert again.status_code == 400 and "invalid, expired or already used" in again.text
    me = client.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 401
    assert login(client, email, NEW_PASSWORD)["accessToken"]


def test_a_token_in_the_query_fills_the_form(auth_server: AuthServerProcess) -> None:
    # For PASSWORD_RESET_URL templates that put the token in the query string.
    with browser(auth_server) as http:
        page = http.get("/reset-password", params={"token": "abc_DEF-123"})
    assert 'name="token" id="token" value="abc_DEF-123"' in page.text
