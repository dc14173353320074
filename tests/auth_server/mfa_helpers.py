"""Helpers of the MFA tests: enrol with codes pyotp computes at the server's time, and the
login's two steps."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp

from tests.auth_server.helpers import PASSWORD, bearer
from tests.support.lifecycle import TestClock

MFA = "/api/auth/mfa"


def totp_code(secret: str, clock: TestClock | None = None, steps_ahead: int = 0) -> str:
    """The code the user's app shows at the server's "now" (real time plus the test clock's
    offset), or `steps_ahead` 30-second steps later."""
    offset = clock.offset if clock else 0.0
    return pyotp.TOTP(secret).at(time.time() + offset + 30 * steps_ahead)


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


def first_step(http: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    """POST /login for a user with a second factor: the challenge, not tokens."""
    response = http.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    assert data["mfaRequired"] is True and "accessToken" not in data, data
    return data


def verify(http: httpx.Client, mfa_token: str, **factor: str) -> httpx.Response:
    return http.post(f"{MFA}/verify", json={"mfaToken": mfa_token, **factor})


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
