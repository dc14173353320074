"""Helpers of the MFA tests: enrol with codes pyotp computes at the server's time, and the
login's two steps; shared by the API and the hosted pages' tests."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from tests.auth_server.helpers import PASSWORD, bearer, login, verified_user
from tests.support.lifecycle import TestClock
from tests.support.smtp import SmtpSink

MFA = "/api/auth/mfa"


def totp_code(secret: str, clock: TestClock | None = None, steps_ahead: int = 0) -> str:
    """The code the user's app shows at the server's "now" (real time plus the test clock's
    offset), or `steps_ahead` 30-second steps later."""
    offset = clock.offset if clock else 0.0
    return pyotp.TOTP(secret).at(time.time() + offset + 30 * steps_ahead)


def other_code(code: str) -> str:
    """A well-formed code that is not `code` (a wrong code, whatever the right one is)."""
    return f"{(int(code) + 1) % 1_000_000:06d}"


@dataclass
class Enrolled:
    secret: str
    recovery_codes: list[str]


def enrol(http: httpx.Client, access_token: str, clock: TestClock | None = None) -> Enrolled:
    """Sets up and confirms an authenticator app for the token's user."""
    setup = http.post(f"{MFA}/totp/setup", json={}, headers=bearer(access_token))
    assert setup.status_code == 200, setup.text
    secret = setup.json()["data"]["secret"]
    confirmed = http.post(
        f"{MFA}/totp/confirm", json={"code": totp_code(secret, clock)}, headers=bearer(access_token)
    )
    assert confirmed.status_code == 200, confirmed.text
    return Enrolled(secret, confirmed.json()["data"]["recoveryCodes"])


@dataclass
class EnrolledUser:
    email: str
    secret: str
    recovery_codes: list[str]


def enrolled_user(http: httpx.Client, smtp: SmtpSink, clock: TestClock) -> EnrolledUser:
    """A verified user with an authenticator app confirmed through the API, and the clock one
    step on: the confirmation's code is spent, `totp_code` gives the next one."""
    email = verified_user(http, smtp)
    enrolled = enrol(http, login(http, email)["accessToken"], clock)
    clock.advance(30)
    return EnrolledUser(email, enrolled.secret, enrolled.recovery_codes)


def first_step(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """POST /login for a user with a second factor: the challenge, not tokens."""
    response = http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    assert data["mfaRequired"] is True and "accessToken" not in data, data
    return data


def mfa_token(http: httpx.Client, email: str) -> str:
    """A new login's first step: the mfaToken its second step takes."""
    token: str = first_step(http, email)["mfaToken"]
    return token


def verify(http: httpx.Client, mfa_token: str, **factor: str) -> httpx.Response:
    return http.post(f"{MFA}/verify", json={"mfaToken": mfa_token, **factor})


def require_mfa(http: httpx.Client, organization: str, headers: dict[str, str]) -> None:
    """An owner's (or admin's) PATCH turning the organization's two-step policy on."""
    policy = http.patch(
        f"/api/auth/organizations/{organization}", json={"mfaRequired": True}, headers=headers
    )
    assert policy.status_code == 200, policy.text
    assert policy.json()["data"]["mfaRequired"] is True


def enrolling_login(
    http: httpx.Client, email: str, password: str, clock: TestClock | None = None
) -> dict[str, Any]:
    """A login that a policy sends to enrol: setup and confirm with the mfaToken; the
    confirmation's answer (recovery codes and the login's tokens)."""
    challenge = first_step(http, email, password)
    assert challenge["mfaSetupRequired"] is True and challenge["methods"] == []
    token = challenge["mfaToken"]
    setup = http.post(f"{MFA}/totp/setup", json={"mfaToken": token})
    assert setup.status_code == 200, setup.text
    secret = setup.json()["data"]["secret"]
    confirmed = http.post(
        f"{MFA}/totp/confirm", json={"mfaToken": token, "code": totp_code(secret, clock)}
    )
    assert confirmed.status_code == 200, confirmed.text
    data: dict[str, Any] = confirmed.json()["data"]
    return data
