"""The hosted pages' passkey forms over HTTP, as passkeys.js drives them (options, then the
form with the credential's JSON), with the software authenticator: add one on /account,
sign in with it alone, prove it after the password; and their refusals as pages."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, verified_user
from tests.auth_server.pages import browser, csrf_of, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.authenticator import SoftAuthenticator
from tests.support.smtp import SmtpSink


@pytest.fixture
def authenticator(auth_server: AuthServerProcess) -> SoftAuthenticator:
    return SoftAuthenticator(auth_server.base_url)


@pytest.fixture
def account(
    auth_server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> Iterator[tuple[httpx.Client, str]]:
    """A browser signed in to a new account, and the account's e-mail."""
    email = verified_user(client, smtp_sink)
    with browser(auth_server) as http:
        assert sign_in(http, email, PASSWORD).status_code == 303
        yield http, email


def options(http: httpx.Client, path: str, page: str) -> Any:
    """What passkeys.js asks first: the form's CSRF token posted to data-options."""
    answer = post_form(http, path, page=page)
    assert answer.status_code == 200, answer.text
    return answer.json()["data"]


def add_passkey(
    http: httpx.Client, authenticator: SoftAuthenticator, name: str = "Laptop"
) -> httpx.Response:
    credential = authenticator.create(options(http, "/account/passkeys/options", "/account"))
    return post_form(
        http,
        "/account/passkeys",
        page="/account",
        credential=json.dumps(credential),
        passkeyName=name,
    )


def test_add_rename_delete_on_the_account_page(
    account: tuple[httpx.Client, str], authenticator: SoftAuthenticator
) -> None:
    http, _ = account
    added = add_passkey(http, authenticator)
    assert added.status_code == 303
    assert added.headers["location"] == "/account?notice=passkey_added#passkeys"
    page = http.get("/account")
    assert "Your passkey was added." in http.get(added.headers["location"]).text
    assert 'value="Laptop"' in page.text
    passkey_id = page.text.split('action="/account/passkeys/')[1].split("/")[0]
    renamed = post_form(http, f"/account/passkeys/{passkey_id}/rename", page="/account", name="Key")
    assert renamed.status_code == 303 and 'value="Key"' in http.get("/account").text
    deleted = post_form(http, f"/account/passkeys/{passkey_id}/delete", page="/account")
    assert deleted.status_code == 303
    assert "You have no passkey yet." in http.get("/account").text


def test_account_refusals(
    account: tuple[httpx.Client, str], auth_server: AuthServerProcess
) -> None:
    http, _ = account
    # A broken credential: the page again, its banner, nothing stored.
    refused = post_form(http, "/account/passkeys", page="/account", credential="{not json")
    assert refused.status_code == 400
    assert "The passkey&#39;s answer could not be verified" in refused.text
    assert "You have no passkey yet." in refused.text
    # Without the CSRF token: refused before anything is read.
    forged = http.post("/account/passkeys/options", data={"csrf_token": "x" * 43})
    assert forged.status_code == 403
    # Someone else's passkey id: not found, said on the page.
    missing = post_form(
        http,
        "/account/passkeys/00000000-0000-0000-0000-000000000000/delete",
        page="/account",
    )
    assert missing.status_code == 404 and "No such passkey" in missing.text
    # No browser session: the script's options call gets the API's 401.
    with browser(auth_server) as anonymous:
        answer = post_form(anonymous, "/account/passkeys/options", page="/signin")
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_token"


def test_sign_in_with_a_passkey_alone(
    account: tuple[httpx.Client, str],
    authenticator: SoftAuthenticator,
    auth_server: AuthServerProcess,
) -> None:
    http, email = account
    assert add_passkey(http, authenticator).status_code == 303
    with browser(auth_server) as fresh:
        request = options(fresh, "/signin/passkey/options", "/signin")
        assert request["userVerification"] == "required"
        done = post_form(
            fresh,
            "/signin/passkey",
            page="/signin",
            credential=json.dumps(authenticator.get(request)),
            next="/account?x=1",
        )
        assert done.status_code == 303 and done.headers["location"] == "/account?x=1"
        assert f"Signed in as {email}." in fresh.get("/account").text

        # A garbled answer: the sign-in page with the refusal, no session.
        with browser(auth_server) as other:
            garbled = post_form(other, "/signin/passkey", page="/signin", credential="[]")
            assert garbled.status_code == 400
            assert "The passkey&#39;s answer could not be verified" in garbled.text
            assert other.get("/account").status_code == 303


def test_password_then_passkey(
    account: tuple[httpx.Client, str],
    authenticator: SoftAuthenticator,
    auth_server: AuthServerProcess,
) -> None:
    http, email = account
    assert add_passkey(http, authenticator).status_code == 303
    with browser(auth_server) as fresh:
        first = sign_in(fresh, email, PASSWORD, next="/account")
        assert first.status_code == 303 and first.headers["location"].startswith("/signin/mfa?")
        # Passkeys only: the code page sends on to the passkey step.
        step = fresh.get(first.headers["location"])
        assert step.status_code == 303
        assert step.headers["location"] == "/signin/mfa/passkey?next=%2Faccount"
        page = fresh.get(step.headers["location"])
        assert page.status_code == 200 and 'data-passkey="mfa"' in page.text
        request = options(fresh, "/signin/mfa/passkey/options", step.headers["location"])

        # Another authenticator's answer: a wrong factor, said of the passkey.
        stranger = SoftAuthenticator(auth_server.base_url)
        stranger.create({**request, "rp": {"id": "127.0.0.1"}, "user": {"id": "AA"}})
        wrong = post_form(
            fresh,
            "/signin/mfa/passkey",
            page=step.headers["location"],
            credential=json.dumps(stranger.get(request)),
            next="/account",
        )
        assert wrong.status_code == 401 and "This passkey was not accepted" in wrong.text

        request = options(fresh, "/signin/mfa/passkey/options", step.headers["location"])
        done = post_form(
            fresh,
            "/signin/mfa/passkey",
            page=step.headers["location"],
            credential=json.dumps(authenticator.get(request)),
            next="/account",
        )
        assert done.status_code == 303 and done.headers["location"] == "/account"
        assert fresh.get("/account").status_code == 200
        # The step is spent: its page now starts again.
        again = fresh.get(step.headers["location"])
        assert again.status_code == 401 and csrf_of(again)
