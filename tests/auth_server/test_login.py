"""Login: credentials, account states, no enumeration, re-hashing."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from auth_server.models import User
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    login,
    new_email,
    set_user_fields,
    signup,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


def attempt(client: httpx.Client, email: str, password: str) -> httpx.Response:
    return client.post("/api/auth/login", json={"email": email, "password": password})


def test_login_returns_tokens_and_identity(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = verified_user(client, smtp_sink)
    data = login(client, email)
    assert set(data) == {
        "accessToken",
        "refreshToken",
        "tokenType",
        "expiresIn",
        "user",
        "organization",
        "licenses",
        "memberships",
    }
    user = data["user"]
    assert user["email"] == email and user["emailVerified"] is True and user["isActive"] is True
    assert {"id", "firstName", "lastName", "createdAt"} <= set(user)
    assert len(data["refreshToken"]) >= 43  # 256 bits, base64url


def test_unknown_email_and_wrong_password_look_alike(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    wrong = attempt(client, email, "not-the-password-at-all")
    unknown = attempt(client, new_email(), PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert (
        wrong.json()
        == unknown.json()
        == {
            "success": False,
            "code": "invalid_credentials",
            "message": "Invalid email or password",
        }
    )


def test_unverified_and_disabled_accounts(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    unverified = new_email()
    signup(client, unverified)
    assert attempt(client, unverified, PASSWORD).json()["code"] == "email_not_verified"
    # The state is only told to someone who knows the password.
    assert attempt(client, unverified, "wrong-password-here").json()["code"] == (
        "invalid_credentials"
    )

    disabled = verified_user(client, smtp_sink)
    session = login(client, disabled)
    set_user_fields(auth_server, disabled, is_active=False)
    refused = attempt(client, disabled, PASSWORD)
    assert refused.status_code == 403
    assert refused.json()["code"] == "account_disabled"
    assert client.get("/api/auth/me", headers=bearer(session["accessToken"])).status_code == 401
    again = client.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert again.json()["code"] == "invalid_refresh_token"


@pytest.fixture
def costlier_server(auth_server: AuthServerProcess) -> Iterator[AuthServerProcess]:
    """A second server on the same database and keys, with a higher argon2 time cost."""
    server = AuthServerProcess(
        auth_server.database_url, auth_server.data_dir, argon2_time_cost=3
    ).start()
    yield server
    server.stop()


def test_login_rehashes_when_the_cost_changes(
    client: httpx.Client, smtp_sink: SmtpSink, costlier_server: AuthServerProcess
) -> None:
    email = verified_user(client, smtp_sink)
    with database(costlier_server) as db:
        assert ",t=2," in db.scalars(select(User.password_hash).where(User.email == email)).one()
    with httpx.Client(base_url=costlier_server.base_url) as other:
        login(other, email)
    with database(costlier_server) as db:
        assert ",t=3," in db.scalars(select(User.password_hash).where(User.email == email)).one()
    login(client, email)  # the old server still verifies the new hash
