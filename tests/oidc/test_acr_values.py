"""acr_values=urn:rozitech:acr:mfa: a browser signed in with a password alone takes the
second step (or enrols) before the code is issued; the ID token and the access token then
carry amr ["pwd", "otp"] and acr urn:rozitech:acr:mfa. Without it, the password suffices and
the tokens say so."""

from __future__ import annotations

from typing import Any

import httpx
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from tests.auth_server.helpers import PASSWORD, login, unverified_claims
from tests.auth_server.mfa_helpers import enrol, first_step, totp_code
from tests.auth_server.pages import csrf_of
from tests.oidc.support import Browser, authorization, callback_params, discovery, register
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock

ACR_MFA = "urn:rozitech:acr:mfa"


def id_token_claims(
    server: AuthServerProcess, rp: Any, callback: httpx.Response, verifier: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The code exchanged: the validated ID token's claims and the access token's."""
    meta = discovery(server)
    token = rp.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback.headers["location"],
        code_verifier=verifier,
    )
    keys = JsonWebKey.import_key_set(httpx.get(meta["jwks_uri"]).json())
    claims = jwt.decode(token["id_token"], keys, claims_cls=CodeIDToken)
    return dict(claims), unverified_claims(token["access_token"])


def test_discovery_names_the_classes(server: AuthServerProcess) -> None:
    assert ACR_MFA in discovery(server)["acr_values_supported"]


def test_acr_values_mfa_makes_a_password_session_take_the_second_step(
    server: AuthServerProcess, browser: Browser, email: str, clock: TestClock
) -> None:
    client = register(server)
    # Signed in on the hosted page with the password alone; then the app is set up.
    assert browser.sign_in(email, PASSWORD).url.path == "/account"
    with httpx.Client(base_url=server.base_url, timeout=30) as api:
        secret = enrol(api, login(api, email)["accessToken"], clock).secret
    clock.advance(30)

    # A client that asks nothing more gets its code at once, and the tokens say "pwd".
    rp, url, verifier = authorization(server, client)
    claims, _access = id_token_claims(server, rp, browser.go(url), verifier)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:rozitech:acr:pwd"

    # One that asks for a second factor: the second step first (no password again).
    rp, url, verifier = authorization(server, client, acr_values=ACR_MFA)
    step = browser.go(url)
    assert step.url.path == "/signin/mfa", step.url
    callback = browser.submit(
        "/signin/mfa", step, code=totp_code(secret, clock), next=str(step.url.params["next"])
    )
    assert "code" in callback_params(callback)
    claims, access = id_token_claims(server, rp, callback, verifier)
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == ACR_MFA
    assert access["amr"] == ["pwd", "otp"] and access["acr"] == ACR_MFA
    # The browser session now has the second factor: the next such request goes through.
    rp, url, verifier = authorization(server, client, acr_values=ACR_MFA)
    claims, _access = id_token_claims(server, rp, browser.go(url), verifier)
    assert claims["acr"] == ACR_MFA


def test_a_password_session_asked_for_mfa_enrols_first(
    server: AuthServerProcess, browser: Browser, email: str, clock: TestClock
) -> None:
    client = register(server)
    # The password alone, no factor: this client is happy with it...
    rp, url, verifier = authorization(server, client)
    first = browser.go(url)
    callback = browser.sign_in(email, PASSWORD, next_url=str(first.url.params["next"]))
    claims, access = id_token_claims(server, rp, callback, verifier)
    assert claims["amr"] == ["pwd"] and claims["acr"] == "urn:rozitech:acr:pwd"
    assert access["acr"] == "urn:rozitech:acr:pwd"

    # ...another asks for a second factor: with prompt=none that is an error...
    rp, url, verifier = authorization(server, client, acr_values=ACR_MFA, prompt="none")
    refused = callback_params(browser.go(url))
    assert refused["error"] == "login_required"
    # ...interactively, the same browser session enrols an app, then gets its code.
    rp, url, verifier = authorization(server, client, acr_values=ACR_MFA)
    setup = browser.go(url)
    assert setup.url.path == "/signin/mfa/setup", setup.url
    assert "The service you are signing in to requires two-step verification" in setup.text
    secret = setup.text.split('id="totp-secret">', 1)[1].split("<", 1)[0]
    codes_page = browser.http.post(
        "/signin/mfa/setup",
        data={
            "csrf_token": csrf_of(setup),
            "code": totp_code(secret, clock),
            "next": str(setup.url.params["next"]),
        },
    )
    assert codes_page.status_code == 200 and "recovery-codes" in codes_page.text
    callback = browser.go(str(setup.url.params["next"]))
    claims, access = id_token_claims(server, rp, callback, verifier)
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == ACR_MFA
    # The account now has the app: the password alone is no login any more.
    with httpx.Client(base_url=server.base_url, timeout=30) as api:
        assert first_step(api, email)["methods"] == ["totp", "recovery_code"]
