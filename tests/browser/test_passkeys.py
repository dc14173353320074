"""Passkeys in Chromium with a virtual authenticator (the DevTools Protocol's WebAuthn
domain): add, rename and delete one on /account, sign in with it alone on /signin; and the
JSON API's success paths, with credentials the browser's authenticator makes.

WebAuthn refuses IP addresses as relying party ids: the server here is reached as
`localhost` (WEBAUTHN_RP_ID defaults to AUTH_PUBLIC_URL's host). Screenshots go to
data/screenshots/passkeys-*.png.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from sqlalchemy import select

from auth_server.models import AuthSession, User
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    login,
    unverified_claims,
    verified_user,
)
from tests.browser.tabs import NEEDS_BROWSER, Tab
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.smtp import SmtpSink

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = NEEDS_BROWSER

# The browser's side of the API tests: WebAuthn's create/get with the options an endpoint
# gave, the credential returned in WebAuthn's JSON form (what a product's page would send).
CEREMONY_JS = """async ([kind, options]) => {
  const bytes = (s) => Uint8Array.from(atob(s.replace(/-/g, "+").replace(/_/g, "/")
    + "=".repeat((4 - s.length % 4) % 4)), (c) => c.charCodeAt(0));
  const text = (b) => btoa(String.fromCharCode(...new Uint8Array(b)))
    .replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
  const ids = (list) => (list || []).map((d) => ({...d, id: bytes(d.id)}));
  if (kind === "create") {
    const c = await navigator.credentials.create({publicKey: {...options,
      challenge: bytes(options.challenge), user: {...options.user, id: bytes(options.user.id)},
      excludeCredentials: ids(options.excludeCredentials)}});
    return {id: c.id, rawId: text(c.rawId), type: c.type, response: {
      clientDataJSON: text(c.response.clientDataJSON),
      attestationObject: text(c.response.attestationObject),
      transports: c.response.getTransports()}};
  }
  const c = await navigator.credentials.get({publicKey: {...options,
    challenge: bytes(options.challenge), allowCredentials: ids(options.allowCredentials)}});
  return {id: c.id, rawId: text(c.rawId), type: c.type, response: {
    clientDataJSON: text(c.response.clientDataJSON),
    authenticatorData: text(c.response.authenticatorData),
    signature: text(c.response.signature),
    userHandle: c.response.userHandle ? text(c.response.userHandle) : null}};
}"""


@pytest.fixture(scope="module")
def server(smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    workdir: Path = tmp_path_factory.mktemp("passkeys")
    with temporary_database(workdir) as database_url:
        process = AuthServerProcess(database_url, workdir, smtp_port=smtp_sink.port)
        # The pages' origin: a host name (see the module's docstring), on the same port.
        process.env["AUTH_PUBLIC_URL"] = f"http://localhost:{process.port}"
        process.migrate().start()
        yield process
        process.stop()


@pytest.fixture
def http(server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def tab(browser: Browser, server: AuthServerProcess) -> Iterator[Tab]:
    tab = Tab(browser, f"http://localhost:{server.port}", "passkeys")
    # A platform authenticator that holds discoverable credentials and verifies its user
    # (a fingerprint or PIN, always given).
    cdp = tab.page.context.new_cdp_session(tab.page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": True,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    yield tab
    tab.close()


def submit(page: Page, label: str) -> None:
    with page.expect_navigation():
        page.get_by_role("button", name=label, exact=True).click()


def sign_in_with_password(tab: Tab, email: str) -> Page:
    page = tab.visit("/signin", "signin")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    submit(page, "Sign in")
    return page


def browser_session_amr(server: AuthServerProcess, email: str) -> str | None:
    """The amr of the user's newest browser session."""
    with database(server) as db:
        return db.scalar(
            select(AuthSession.amr)
            .join(User, User.id == AuthSession.user_id)
            .where(User.email == email, AuthSession.browser_hash.is_not(None))
            .order_by(AuthSession.created_at.desc())
            .limit(1)
        )


def test_add_a_passkey_then_sign_in_with_it_alone(
    tab: Tab, server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    page = sign_in_with_password(tab, email)
    assert page.url.endswith("/account")
    tab.screenshot("account-without-passkey")
    assert page.get_by_text("You have no passkey yet.").is_visible()

    page.get_by_label("Name of the new passkey").fill("Laptop")
    submit(page, "Add a passkey")
    assert "notice=passkey_added" in page.url
    assert page.get_by_role("status").inner_text() == "Your passkey was added."
    assert page.get_by_label("Name of the passkey Laptop").input_value() == "Laptop"
    tab.screenshot("account-passkey-added")
    tab.assert_clean()

    # Signed out, then in again with the passkey alone: no e-mail, no password.
    with page.expect_navigation():
        page.locator('form[action="/signout"] button').click()
    tab.screenshot("signin-with-passkey-button")
    submit(page, "Sign in with a passkey")
    assert page.url.endswith("/account")
    assert page.get_by_text(f"Signed in as {email}.").is_visible()
    tab.screenshot("account-after-passkey-signin")
    tab.assert_clean()
    # The virtual authenticator's credential is bound to it (not synced): "hwk".
    assert browser_session_amr(server, email) == "hwk"
    # The passkey shows its use.
    assert "Never" not in page.locator("#passkeys + p + table").inner_text()

    # Renamed, then deleted.
    page.get_by_label("Name of the passkey Laptop").fill("Work laptop")
    submit(page, "Rename the passkey Laptop")
    assert page.get_by_label("Name of the passkey Work laptop").input_value() == "Work laptop"
    submit(page, "Delete the passkey Work laptop")
    assert page.get_by_role("status").inner_text() == "Your passkey was deleted."
    assert page.get_by_text("You have no passkey yet.").is_visible()
    tab.screenshot("account-passkey-deleted")
    tab.assert_clean()


def test_cancelled_passkey_sign_in_says_so(tab: Tab) -> None:
    # The authenticator holds no passkey for this site: the browser's call fails.
    page = tab.visit("/signin", "signin-no-passkey")
    page.get_by_role("button", name="Sign in with a passkey").click()
    alert = page.get_by_text("No passkey was used. Try again, or sign in with your password.")
    alert.wait_for()
    tab.screenshot("signin-passkey-failed")
    assert page.url.endswith("/signin")
    tab.assert_clean()


def ceremony(page: Page, kind: str, options: dict[str, Any]) -> dict[str, Any]:
    credential: dict[str, Any] = page.evaluate(CEREMONY_JS, [kind, options])
    return credential


def test_api_register_list_rename_and_passwordless_login(
    tab: Tab, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    access = bearer(login(http, email)["accessToken"])
    page = tab.visit("/signin", "api-origin")

    options = http.post("/api/auth/mfa/webauthn/register/options", headers=access)
    assert options.status_code == 200, options.text
    creation = options.json()["data"]
    assert creation["rp"]["id"] == "localhost"
    assert creation["authenticatorSelection"]["residentKey"] == "preferred"
    credential = ceremony(page, "create", creation)
    created = http.post(
        "/api/auth/mfa/webauthn/register/verify",
        json={"credential": credential, "name": "Phone"},
        headers=access,
    )
    assert created.status_code == 201, created.text
    passkey = created.json()["data"]
    assert passkey["name"] == "Phone" and passkey["deviceType"] == "single_device"
    # The same answer again: its challenge is spent.
    again = http.post(
        "/api/auth/mfa/webauthn/register/verify",
        json={"credential": credential, "name": "Phone"},
        headers=access,
    )
    assert again.status_code == 400 and again.json()["code"] == "invalid_passkey_challenge"

    listed = http.get("/api/auth/mfa", headers=access).json()["data"]["passkeys"]
    assert [p["id"] for p in listed] == [passkey["id"]]
    renamed = http.patch(
        f"/api/auth/mfa/webauthn/{passkey['id']}", json={"name": "My phone"}, headers=access
    )
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "My phone"

    # Passwordless: the normal login answer, amr "hwk".
    request = http.post("/api/auth/webauthn/login/options").json()["data"]
    assert request["userVerification"] == "required" and not request.get("allowCredentials")
    assertion = ceremony(page, "get", request)
    answer = http.post("/api/auth/webauthn/login/verify", json={"credential": assertion})
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["user"]["email"] == email
    assert unverified_claims(data["accessToken"])["amr"] == ["hwk"]
    me = http.get("/api/auth/me", headers=bearer(data["accessToken"]))
    assert me.status_code == 200
    # Replayed: refused, and no second session.
    replay = http.post("/api/auth/webauthn/login/verify", json={"credential": assertion})
    assert replay.status_code == 400 and replay.json()["code"] == "invalid_passkey_challenge"

    # Deleted: the authenticator's passkey no longer signs in.
    deleted = http.delete(f"/api/auth/mfa/webauthn/{passkey['id']}", headers=access)
    assert deleted.status_code == 200
    request = http.post("/api/auth/webauthn/login/options").json()["data"]
    unknown = http.post(
        "/api/auth/webauthn/login/verify", json={"credential": ceremony(page, "get", request)}
    )
    assert unknown.status_code == 401 and unknown.json()["code"] == "unknown_passkey"
    tab.assert_clean()


def test_disabled_account_cannot_sign_in_with_its_passkey(
    tab: Tab, server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    access = bearer(login(http, email)["accessToken"])
    page = tab.visit("/signin", "api-origin")
    creation = http.post("/api/auth/mfa/webauthn/register/options", headers=access).json()["data"]
    http.post(
        "/api/auth/mfa/webauthn/register/verify",
        json={"credential": ceremony(page, "create", creation)},
        headers=access,
    ).raise_for_status()
    with database(server) as db:
        user = db.scalar(select(User).where(User.email == email))
        assert user is not None
        user.is_active = False
        db.commit()
    request = http.post("/api/auth/webauthn/login/options").json()["data"]
    refused = http.post(
        "/api/auth/webauthn/login/verify", json={"credential": ceremony(page, "get", request)}
    )
    assert refused.status_code == 403 and refused.json()["code"] == "account_disabled"
    tab.assert_clean()


def test_api_password_then_passkey(tab: Tab, http: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = verified_user(http, smtp_sink)
    access = bearer(login(http, email)["accessToken"])
    page = tab.visit("/signin", "api-origin")
    creation = http.post("/api/auth/mfa/webauthn/register/options", headers=access).json()["data"]
    http.post(
        "/api/auth/mfa/webauthn/register/verify",
        json={"credential": ceremony(page, "create", creation)},
        headers=access,
    ).raise_for_status()

    first = http.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    challenge = first.json()["data"]
    assert challenge["mfaRequired"] is True and challenge["methods"] == ["webauthn"]
    token = challenge["mfaToken"]
    request = http.post("/api/auth/mfa/webauthn/options", json={"mfaToken": token})
    assertion = ceremony(page, "get", request.json()["data"])
    done = http.post("/api/auth/mfa/verify", json={"mfaToken": token, "webauthn": assertion})
    assert done.status_code == 200, done.text
    claims = unverified_claims(done.json()["data"]["accessToken"])
    assert claims["amr"] == ["pwd", "hwk"] and claims["acr"] == "urn:rozitech:acr:mfa"
    tab.assert_clean()


def test_password_then_passkey_on_the_hosted_pages(
    tab: Tab, server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(http, smtp_sink)
    page = sign_in_with_password(tab, email)
    page.get_by_label("Name of the new passkey").fill("Laptop")
    submit(page, "Add a passkey")
    with page.expect_navigation():
        page.locator('form[action="/signout"] button').click()

    # The password now leads to the second step: the user's passkey (no app, no code page).
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    submit(page, "Sign in")
    assert page.url.startswith(f"{tab.origin}/signin/mfa/passkey?next=")
    tab.screenshot("second-step-passkey")
    assert not page.get_by_text("Use your authenticator app instead").is_visible()
    submit(page, "Use a passkey")
    assert page.url.endswith("/account")
    assert page.get_by_text(f"Signed in as {email}.").is_visible()
    tab.screenshot("account-after-second-step")
    tab.assert_clean()
    assert browser_session_amr(server, email) == "pwd hwk"
