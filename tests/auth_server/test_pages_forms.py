"""Every form of the hosted pages refuses a post without this browser's CSRF token, and
answers a field over its length limit with a page, not the JSON API's envelope."""

from __future__ import annotations

import re
import uuid

import httpx
import pytest
from annotated_types import MaxLen
from sqlalchemy import func, select

from auth_server.models import Base
from auth_server.web.routes import PAGE_ROUTES
from tests.auth_server.helpers import PASSWORD, database, verified_user
from tests.auth_server.pages import browser, csrf_of, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

_BACK = re.compile(r'<nav class="links"><a href="([^"]+)">')

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
    # "Go back" leads to a page (a GET route), not to the post-only path.
    back = _BACK.search(refused.text)
    assert back is not None and http.get(back.group(1)).status_code not in (404, 405)
    # Nothing happened: the browser is still signed in, and its account unchanged.
    account = http.get("/account")
    assert account.status_code == 200 and "Mallory" not in account.text


# -- fields over their length limits ---------------------------------------------------------


def _limited_fields() -> list[tuple[str, str, int]]:
    """Each hosted form's fields that have a length limit, read from the app's own routes
    (so a new form is covered as soon as it exists): (path, field, limit)."""
    cases = []
    for route in PAGE_ROUTES:
        for field in route.dependant.body_params if "POST" in (route.methods or ()) else ():
            for check in field.field_info.metadata:
                if isinstance(check, MaxLen):
                    cases.append((route.path, field.alias, check.max_length))
    return cases


LIMITED = _limited_fields()


def test_the_limited_fields_are_found() -> None:
    # Guards the reading of the route table: every kind of form is in it.
    found = {(path, field) for path, field, _ in LIMITED}
    assert {
        ("/signin", "password"),
        ("/signup", "firstName"),
        ("/account/profile", "firstName"),
        ("/account/two-step/disable", "mfaCode"),
        ("/signin/mfa", "code"),
        ("/account/passkeys/{passkey_id}/rename", "name"),
        ("/accept-invitation/signin", "token"),
    } <= found


def _rows(server: AuthServerProcess) -> dict[str, int]:
    """How many rows each of the server's tables holds."""
    with database(server) as db:
        return {
            table.name: db.scalar(select(func.count()).select_from(table)) or 0
            for table in Base.metadata.sorted_tables
        }


def _is_error_page(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text
    assert "text/html" in answer.headers["content-type"]
    assert "<code>validation_error</code>" in answer.text
    assert "Traceback" not in answer.text and '"success"' not in answer.text


@pytest.mark.parametrize(("path", "field", "limit"), LIMITED)
def test_a_field_over_its_limit_gives_the_error_page_and_writes_nothing(
    path: str,
    field: str,
    limit: int,
    signed_in: tuple[httpx.Client, str],
    auth_server: AuthServerProcess,
) -> None:
    http, token = signed_in
    before = _rows(auth_server)
    # A value that would pass any other check but its length (a name, a code, a password).
    answer = http.post(
        path.format(session_id=uuid.uuid4(), passkey_id=uuid.uuid4()),
        data={"csrf_token": token, field: "1" * (limit + 1)},
    )
    _is_error_page(answer)
    # Not the value back (a password must not be echoed).
    assert "1" * (limit + 1) not in answer.text
    # "Go back" leads to a page (a GET route), not to the post-only path.
    back = _BACK.search(answer.text)
    assert back is not None and http.get(back.group(1)).status_code not in (404, 405)
    assert _rows(auth_server) == before
    # Still signed in, the account as it was.
    account = http.get("/account")
    assert account.status_code == 200 and "1" * 100 not in account.text


def test_a_malformed_id_in_a_form_path_gives_the_error_page(
    signed_in: tuple[httpx.Client, str],
) -> None:
    http, token = signed_in
    answer = http.post("/account/sessions/not-a-session/revoke", data={"csrf_token": token})
    _is_error_page(answer)
    assert 'href="/account"' in answer.text


def test_the_json_api_keeps_its_envelope_for_an_over_long_field(client: httpx.Client) -> None:
    answer = client.post(
        "/api/auth/login", json={"email": "someone@example.com", "password": "x" * 5000}
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["success"] is False and body["code"] == "validation_error"
