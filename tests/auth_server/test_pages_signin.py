"""The sign-in page and the browser session: through the real server, as a browser would."""

from __future__ import annotations

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, verified_user
from tests.auth_server.pages import browser, csrf_of, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


@pytest.fixture
def http(auth_server: AuthServerProcess) -> httpx.Client:
    return browser(auth_server)


def test_sign_in_sets_the_sso_cookie_and_goes_on(
    http: httpx.Client, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    page = http.get("/signin?next=/account")
    assert page.status_code == 200
    assert 'autocomplete="current-password"' in page.text
    # Its one script is our own file (passkeys.js): nothing inline, nothing from elsewhere.
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert "unsafe-inline" not in page.headers["content-security-policy"]
    assert page.headers["cache-control"] == "no-store"
    csrf_cookie = page.headers["set-cookie"]
    assert "rz_csrf=" in csrf_cookie and "HttpOnly" in csrf_cookie and "SameSite=Lax" in csrf_cookie

    done = http.post(
        "/signin",
        data={
            "csrf_token": csrf_of(page),
            "email": email,
            "password": PASSWORD,
            "next": "/account",
        },
    )
    assert done.status_code == 303 and done.headers["location"] == "/account"
    cookie = done.headers["set-cookie"]
    assert cookie.startswith("rz_sso=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain HTTP in tests; production sets it
    # Signed in: the sign-in page with a `next` goes straight on.
    again = http.get("/signin?next=/somewhere")
    assert again.status_code == 303 and again.headers["location"] == "/somewhere"
    # ...unless the caller needs the password again (OIDC prompt=login).
    assert http.get("/signin?next=/somewhere&force=1").status_code == 200


@pytest.mark.parametrize(
    "target",
    [
        "https://evil.example/",
        "//evil.example/",
        "/\\evil.example/",
        "http:/evil.example",
        "javascript:alert(1)",
        "/ok\r\nLocation: https://evil.example",
    ],
)
def test_next_never_leaves_this_server(
    target: str, http: httpx.Client, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    done = sign_in(http, email, PASSWORD, next=target)
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert http.get("/signin", params={"next": target}).headers["location"] == "/account"


def test_unknown_email_and_wrong_password_get_the_same_page(
    http: httpx.Client, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    wrong = sign_in(http, email, "not the password at all")
    unknown = sign_in(http, f"nobody-{email}", "not the password at all")
    assert wrong.status_code == unknown.status_code == 401
    # The same page but for the address typed in (each form's CSRF token is the same too).
    assert wrong.text == unknown.text.replace(f"nobody-{email}", email)
    assert 'role="alert">Invalid email or password<' in wrong.text
    assert "rz_sso" not in wrong.headers.get("set-cookie", "")


def test_csrf_missing_or_wrong_is_refused(
    http: httpx.Client, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    http.get("/signin")  # the CSRF cookie
    for token in ("", "x" * 43):
        refused = http.post(
            "/signin", data={"csrf_token": token, "email": email, "password": PASSWORD}
        )
        assert refused.status_code == 403
        assert "csrf_failed" in refused.text and "text/html" in refused.headers["content-type"]
    # The right token from another site is refused as well.
    cross = post_form(http, "/signin", email=email, password=PASSWORD)
    assert cross.status_code == 303
    token = csrf_of(http.get("/signin?force=1"))
    refused = http.post(
        "/signin",
        data={"csrf_token": token, "email": email, "password": PASSWORD},
        headers={"Sec-Fetch-Site": "cross-site"},
    )
    assert refused.status_code == 403


def test_signing_in_again_replaces_the_browser_session(
    http: httpx.Client, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    first = sign_in(http, email, PASSWORD).cookies["rz_sso"]
    # prompt=login: the password again, in the same browser.
    token = csrf_of(http.get("/signin?force=1"))
    form = {"csrf_token": token, "email": email, "password": PASSWORD, "force": "1"}
    second = http.post("/signin", data=form).cookies["rz_sso"]
    assert first != second
    # One browser session listed, the new one; the old cookie no longer signs anyone in.
    assert http.get("/account").text.count("This browser") == 1
    assert http.get("/account").text.count('<span class="tag">Browser</span>') == 1
    with browser_with_cookie(http, first) as stale:
        assert stale.get("/account").status_code == 303


def browser_with_cookie(http: httpx.Client, sso: str) -> httpx.Client:
    return httpx.Client(base_url=http.base_url, cookies={"rz_sso": sso}, timeout=30)
