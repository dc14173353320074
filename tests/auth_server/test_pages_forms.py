"""Every form of the hosted pages refuses a post without this browser's CSRF token."""

from __future__ import annotations

import uuid

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, verified_user
from tests.auth_server.pages import browser, csrf_of, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

# Each form: where it posts, and the fields a real post carries.
FORMS = {
    "/signin": {"email": "someone@example.com", "password": PASSWORD},
    "/signout": {},
    "/signup": {"email": "someone@example.com", "password": PASSWORD, "company": "Acme"},
    "/verify-email": {"email": "someone@example.com", "code": "123456"},
    "/resend-verification": {"email": "someone@example.com"},
    "/forgot-password": {"email": "someone@example.com"},
    "/reset-password": {"token": "x" * 43, "password": PASSWORD, "confirm": PASSWORD},
    "/account/profile": {"firstName": "Mallory", "lastName": "Evil"},
    "/account/password": {"currentPassword": PASSWORD, "newPassword": "mallory's passphrase"},
    f"/account/sessions/{uuid.uuid4()}/revoke": {},
    "/account/logout-all": {},
}


@pytest.fixture(scope="module")
def signed_in(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> tuple[httpx.Client, str]:
    """A browser signed in to the account pages (for the forms that need a session)."""
    with httpx.Client(base_url=auth_server.base_url, timeout=30) as api:
        email = verified_user(api, smtp_sink)
    http = browser(auth_server)
    assert sign_in(http, email, PASSWORD).status_code == 303
    return http, csrf_of(http.get("/account"))


@pytest.mark.parametrize("path", sorted(FORMS))
@pytest.mark.parametrize("token", ["missing", "wrong", "other browser's"])
def test_each_form_refuses_a_post_without_the_csrf_token(
    path: str, token: str, signed_in: tuple[httpx.Client, str], auth_server: AuthServerProcess
) -> None:
    http, _ = signed_in
    fields = dict(FORMS[path])
    if token == "wrong":
        fields["csrf_token"] = "x" * 43
    elif token == "other browser's":
        # A valid token, but of another browser (an attacker's own): it matches no cookie here.
        with browser(auth_server) as other:
            fields["csrf_token"] = csrf_of(other.get("/signin"))
    refused = http.post(path, data=fields)
    assert refused.status_code == 403, refused.text
    assert "text/html" in refused.headers["content-type"]
    assert "<code>csrf_failed</code>" in refused.text
    # Nothing happened: the browser is still signed in, and its account unchanged.
    account = http.get("/account")
    assert account.status_code == 200 and "Mallory" not in account.text
