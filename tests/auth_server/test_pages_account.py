"""The account page, and the browser session ending by every path that ends sessions."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    drain_feed,
    feed_cursor,
    login,
    unverified_claims,
    verified_user,
)
from tests.auth_server.pages import browser, csrf_of, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


@pytest.fixture
def account(
    auth_server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> Iterator[tuple[httpx.Client, str]]:
    """A browser signed in to a new account, and the account's e-mail."""
    email = verified_user(client, smtp_sink)
    with browser(auth_server) as http:
        assert sign_in(http, email, PASSWORD).status_code == 303
        yield http, email


def signed_in(http: httpx.Client) -> bool:
    page = http.get("/account")
    assert page.status_code in (200, 303)
    return page.status_code == 200


def test_the_account_page_needs_a_session(auth_server: AuthServerProcess) -> None:
    with browser(auth_server) as http:
        page = http.get("/account")
    assert page.status_code == 303 and page.headers["location"] == "/signin?next=%2Faccount"


def test_profile(account: tuple[httpx.Client, str], client: httpx.Client) -> None:
    http, email = account
    saved = post_form(http, "/account/profile", page="/account", firstName="Zoë", lastName="Day")
    assert saved.status_code == 303
    assert "Your profile was saved" in http.get(saved.headers["location"]).text
    assert login(client, email)["user"]["firstName"] == "Zoë"
    empty = post_form(http, "/account/profile", page="/account", firstName=" ", lastName="Day")
    assert empty.status_code == 400 and 'aria-describedby="firstName-error"' in empty.text


def test_sign_out_ends_the_session_and_the_feed_says_so(
    account: tuple[httpx.Client, str], client: httpx.Client, auth_server: AuthServerProcess
) -> None:
    http, _ = account
    cursor = feed_cursor(client, auth_server)
    out = post_form(http, "/signout", page="/account")
    assert out.status_code == 303 and out.headers["location"] == "/signin?notice=signed_out"
    assert 'rz_sso=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]
    events, _ = drain_feed(client, auth_server, cursor)
    assert [event["type"] for event in events] == ["session"]


def test_change_password_keeps_this_browser_and_ends_the_others(
    account: tuple[httpx.Client, str], client: httpx.Client
) -> None:
    http, email = account
    tokens = login(client, email)
    wrong = post_form(
        http, "/account/password", page="/account", currentPassword="nope nope nope",
        newPassword="a brand new passphrase",
    )  # fmt: skip
    assert wrong.status_code == 400 and 'id="currentPassword-error"' in wrong.text
    done = post_form(
        http, "/account/password", page="/account", currentPassword=PASSWORD,
        newPassword="a brand new passphrase",
    )  # fmt: skip
    assert done.status_code == 303
    assert signed_in(http)
    assert client.get("/api/auth/me", headers=bearer(tokens["accessToken"])).status_code == 401


@pytest.mark.parametrize("path", ["change-password", "logout-all", "disable"])
def test_every_revocation_path_ends_the_browser_session(
    path: str,
    account: tuple[httpx.Client, str],
    client: httpx.Client,
    auth_server: AuthServerProcess,
) -> None:
    http, email = account
    tokens = login(client, email)
    headers = bearer(tokens["accessToken"])
    if path == "change-password":
        body = {"currentPassword": PASSWORD, "newPassword": "a brand new passphrase"}
        assert client.post("/api/auth/change-password", json=body, headers=headers).is_success
    elif path == "logout-all":
        assert client.post("/api/auth/logout-all", headers=headers).is_success
    else:
        user_id = unverified_claims(tokens["accessToken"])["sub"]
        disabled = client.post(
            f"/api/admin/users/{user_id}/disable", headers=auth_server.service_headers()
        )
        assert disabled.is_success
    assert not signed_in(http)


def test_sessions_list_sign_out_one_and_everywhere(
    account: tuple[httpx.Client, str], client: httpx.Client
) -> None:
    http, email = account
    api_session = unverified_claims(login(client, email)["accessToken"])["sid"]
    page = http.get("/account")
    assert f"/account/sessions/{api_session}/revoke" in page.text
    assert "This browser" in page.text
    one = http.post(f"/account/sessions/{api_session}/revoke", data={"csrf_token": csrf_of(page)})
    assert one.status_code == 303 and signed_in(http)
    assert f"/account/sessions/{api_session}/revoke" not in http.get("/account").text

    tokens = login(client, email)
    everywhere = post_form(http, "/account/logout-all", page="/account")
    assert everywhere.status_code == 303 and "Max-Age=0" in everywhere.headers["set-cookie"]
    assert not signed_in(http)
    me = client.get("/api/auth/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 401


def test_lockout_through_the_page(
    auth_server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    with browser(auth_server) as http:
        answers = [sign_in(http, email, f"wrong password {n}") for n in range(5)]
        assert [a.status_code for a in answers] == [401, 401, 401, 401, 429]
        assert int(answers[-1].headers["retry-after"]) > 0
        # Locked: even the right password gets the lockout page, as from the API.
        locked = sign_in(http, email, PASSWORD)
        assert locked.status_code == 429 and "Too many failed logins" in locked.text
    api = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert api.status_code == 429
