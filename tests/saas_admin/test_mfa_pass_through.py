"""A front end that logs in through the SaaS Admin completes a second factor there too:
/api/auth/mfa/verify is passed through to the auth server, for the same end user."""

from __future__ import annotations

import httpx
import pytest
from rest_framework.test import APIClient

from tests.auth_server.helpers import PASSWORD, login, verified_user
from tests.auth_server.mfa_helpers import enrol, totp_code
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("project_urls")]


@pytest.fixture
def enrolled(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> tuple[str, str, list[str]]:
    """A user with an authenticator app: e-mail, secret, recovery codes."""
    with httpx.Client(base_url=auth_server.base_url) as http:
        email = verified_user(http, smtp_sink)
        app = enrol(http, login(http, email)["accessToken"])
    return email, app.secret, app.recovery_codes


def first_step(api: APIClient, email: str) -> str:
    answer = api.post("/api/auth/login", {"email": email, "password": PASSWORD}, format="json")
    assert answer.status_code == 200, answer.content
    data = answer.json()["data"]
    assert data["mfaRequired"] is True and "accessToken" not in data
    return str(data["mfaToken"])


def test_a_code_completes_the_login(api: APIClient, enrolled: tuple[str, str, list[str]]) -> None:
    email, secret, _ = enrolled
    mfa_token = first_step(api, email)
    # The code of the next step: the one enrolment used is spent (no replay).
    answer = api.post(
        "/api/auth/mfa/verify",
        {"mfaToken": mfa_token, "code": totp_code(secret, steps_ahead=1)},
        format="json",
    )
    assert answer.status_code == 200, answer.content
    assert answer.json()["data"]["accessToken"]
    assert answer.headers["Cache-Control"].startswith("max-age=0")


def test_a_recovery_code_works_once(api: APIClient, enrolled: tuple[str, str, list[str]]) -> None:
    email, _, codes = enrolled
    body = {"mfaToken": first_step(api, email), "recoveryCode": codes[0]}
    assert api.post("/api/auth/mfa/verify", body, format="json").status_code == 200
    again = {"mfaToken": first_step(api, email), "recoveryCode": codes[0]}
    refused = api.post("/api/auth/mfa/verify", again, format="json")
    assert refused.status_code == 401
    assert refused.json()["code"] == "invalid_mfa_code"


@pytest.mark.parametrize(
    "body",
    [
        {"code": "123456"},  # no mfaToken
        {"mfaToken": "x"},  # no factor
        {"mfaToken": "x", "code": "123456", "recoveryCode": "abcd"},  # two factors
        {"mfaToken": "x", "code": "1" * 17},
    ],
)
def test_bad_bodies_are_400_in_the_envelope(api: APIClient, body: dict[str, str]) -> None:
    answer = api.post("/api/auth/mfa/verify", body, format="json")
    assert answer.status_code == 400
    assert answer.json()["success"] is False
    assert answer.json()["code"] == "validation_error"


def test_an_unknown_mfa_token_is_the_auth_servers_refusal(api: APIClient) -> None:
    answer = api.post("/api/auth/mfa/verify", {"mfaToken": "x", "code": "123456"}, format="json")
    assert answer.status_code == 401
    assert answer.json()["code"] == "invalid_mfa_token"
