"""TOTP through the real server: enrol, log in with codes pyotp computes, replay refused,
the mfaToken's limits (expiry, address, single use), disable; amr and acr in the tokens."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, bearer, login, unverified_claims, verified_user
from tests.auth_server.mfa_helpers import (
    MFA,
    enrol,
    enrolled_user,
    first_step,
    mfa_token,
    other_code,
    totp_code,
    verify,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import NEEDS_POSTGRES
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

PWD_ONLY = "urn:rozitech:acr:pwd"
WITH_MFA = "urn:rozitech:acr:mfa"


@pytest.fixture(scope="module")
def running(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir = tmp_path_factory.mktemp("mfa-totp")
    # Lockout budget above five: the challenge's own limit is what these tests see.
    with clocked_server(
        workdir, smtp_sink.port, rate_limit_per_ip="100000/minute", login_max_failures=20
    ) as pair:
        yield pair


def test_enrol_then_log_in_with_a_code(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    email = verified_user(http, smtp_sink)
    session = login(http, email)
    claims = unverified_claims(session["accessToken"])
    assert claims["amr"] == ["pwd"] and claims["acr"] == PWD_ONLY

    setup = http.post(f"{MFA}/totp/setup", json={}, headers=bearer(session["accessToken"]))
    assert setup.status_code == 200, setup.text
    data = setup.json()["data"]
    assert data["otpauthUri"].startswith("otpauth://totp/") and data["secret"] in data["otpauthUri"]
    assert data["qrSvg"].startswith("<svg")
    # Not enrolled until a code confirms it: the password alone still logs in.
    assert "accessToken" in login(http, email)
    wrong = http.post(
        f"{MFA}/totp/confirm",
        json={"code": other_code(totp_code(data["secret"], clock))},
        headers=bearer(session["accessToken"]),
    )
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_mfa_code"
    confirmed = http.post(
        f"{MFA}/totp/confirm",
        json={"code": totp_code(data["secret"], clock)},
        headers=bearer(session["accessToken"]),
    )
    assert confirmed.status_code == 200, confirmed.text
    codes = confirmed.json()["data"]["recoveryCodes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    listed = http.get(MFA, headers=bearer(session["accessToken"])).json()["data"]
    assert listed["methods"] == ["totp", "recovery_code"]
    assert listed["totp"]["enabled"] is True and listed["recoveryCodesRemaining"] == 10
    twice = http.post(f"{MFA}/totp/setup", json={}, headers=bearer(session["accessToken"]))
    assert twice.status_code == 409 and twice.json()["code"] == "mfa_already_enabled"

    clock.advance(30)  # the confirmation's code was spent: the next one
    challenge = first_step(http, email)
    assert challenge["methods"] == ["totp", "recovery_code"] and challenge["expiresIn"] == 300
    answer = verify(http, challenge["mfaToken"], code=totp_code(data["secret"], clock))
    assert answer.status_code == 200, answer.text
    tokens = answer.json()["data"]
    assert tokens["user"]["email"] == email
    claims = unverified_claims(tokens["accessToken"])
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == WITH_MFA
    # Refresh keeps the login's methods.
    refreshed = http.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert refreshed.status_code == 200, refreshed.text
    assert unverified_claims(refreshed.json()["data"]["accessToken"])["amr"] == ["pwd", "otp"]


def test_a_code_is_accepted_once(http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock) -> None:
    user = enrolled_user(http, smtp_sink, clock)
    code = totp_code(user.secret, clock)
    assert verify(http, mfa_token(http, user.email), code=code).status_code == 200
    replay = verify(http, mfa_token(http, user.email), code=code)
    assert replay.status_code == 401 and replay.json()["code"] == "invalid_mfa_code"
    # An older code (the previous step, still inside the window) is refused as well.
    older = verify(http, mfa_token(http, user.email), code=totp_code(user.secret, clock, -1))
    assert older.status_code == 401 and older.json()["code"] == "invalid_mfa_code"
    clock.advance(30)
    fresh = verify(http, mfa_token(http, user.email), code=totp_code(user.secret, clock))
    assert fresh.status_code == 200, fresh.text


def test_the_mfa_token_expires_works_once_and_stays_with_its_address(
    http: httpx.Client,
    smtp_sink: SmtpSink,
    clock: TestClock,
    server: AuthServerProcess,
) -> None:
    user = enrolled_user(http, smtp_sink, clock)

    expiring = mfa_token(http, user.email)
    clock.advance(301)
    late = verify(http, expiring, code=totp_code(user.secret, clock))
    assert late.status_code == 401 and late.json()["code"] == "invalid_mfa_token"

    # Another client address (a trusted service names it) cannot use the token.
    token = mfa_token(http, user.email)
    elsewhere = http.post(
        f"{MFA}/verify",
        json={"mfaToken": token, "code": totp_code(user.secret, clock)},
        headers={**server.service_headers(), "X-End-User-IP": "203.0.113.7"},
    )
    assert elsewhere.status_code == 401 and elsewhere.json()["code"] == "invalid_mfa_token"

    assert verify(http, token, code=totp_code(user.secret, clock)).status_code == 200
    clock.advance(30)
    again = verify(http, token, code=totp_code(user.secret, clock))
    assert again.status_code == 401 and again.json()["code"] == "invalid_mfa_token"


def test_five_wrong_codes_end_the_attempt(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    user = enrolled_user(http, smtp_sink, clock)
    right = totp_code(user.secret, clock)
    wrong = other_code(right)
    token = mfa_token(http, user.email)
    for _ in range(5):
        answer = verify(http, token, code=wrong)
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_mfa_code"
    ended = verify(http, token, code=right)
    assert ended.status_code == 401 and ended.json()["code"] == "invalid_mfa_token"
    # A new login (the password again) may try once more.
    assert verify(http, mfa_token(http, user.email), code=right).status_code == 200


def test_disable_with_the_password_or_a_code(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    email = verified_user(http, smtp_sink)
    token = login(http, email)["accessToken"]
    enrolled = enrol(http, token, clock)
    wrong = http.request(
        "DELETE", f"{MFA}/totp", json={"password": "not-it"}, headers=bearer(token)
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_current_password"
    clock.advance(30)
    disabled = http.request(
        "DELETE",
        f"{MFA}/totp",
        json={"code": totp_code(enrolled.secret, clock)},
        headers=bearer(token),
    )
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["data"]["methods"] == []
    # The password alone logs in again; a recovery code of the old set is gone with it.
    assert unverified_claims(login(http, email)["accessToken"])["amr"] == ["pwd"]
    again = http.request("DELETE", f"{MFA}/totp", json={"password": "x"}, headers=bearer(token))
    assert again.status_code == 404 and again.json()["code"] == "mfa_not_enabled"

    # Enrolled anew, disabled with the password this time.
    enrol(http, token, clock)
    by_password = http.request(
        "DELETE", f"{MFA}/totp", json={"password": PASSWORD}, headers=bearer(token)
    )
    assert by_password.status_code == 200, by_password.text


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/verify", {"mfaToken": "x", "code": "12ab56"}),
        ("/verify", {"mfaToken": "x", "code": "1234567"}),
        ("/verify", {"mfaToken": "x"}),
        ("/verify", {"code": "123456"}),
        ("/verify", {"mfaToken": "x", "code": "123456", "recoveryCode": "AAAA"}),
        ("/totp/confirm", {"code": ""}),
    ],
)
def test_malformed_requests_get_a_400_envelope(
    http: httpx.Client, path: str, body: dict[str, str]
) -> None:
    answer = http.post(f"{MFA}{path}", json=body)
    assert answer.status_code == 400
    assert answer.json()["success"] is False and answer.json()["code"] == "validation_error"


def test_unknown_tokens_and_missing_credentials_get_401(http: httpx.Client) -> None:
    unknown = verify(http, "not-a-token", code="123456")
    assert unknown.status_code == 401 and unknown.json()["code"] == "invalid_mfa_token"
    anonymous = http.post(f"{MFA}/totp/setup", json={})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "invalid_token"
    forged = http.post(f"{MFA}/totp/setup", json={"mfaToken": "not-a-token"})
    assert forged.status_code == 401 and forged.json()["code"] == "invalid_mfa_token"


@NEEDS_POSTGRES
def test_concurrent_verifications_spend_the_token_once(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    user = enrolled_user(http, smtp_sink, clock)
    token = mfa_token(http, user.email)
    code = totp_code(user.secret, clock)
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: verify(http, token, code=code), range(6)))
    statuses = sorted(answer.status_code for answer in answers)
    # One login; the others find the code spent or the token used, never a 500.
    assert statuses == [200, 401, 401, 401, 401, 401], [a.text for a in answers]
