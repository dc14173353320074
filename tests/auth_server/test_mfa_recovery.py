"""Recovery codes, the lockout wrong codes feed, the administrator's reset and the
organization policy, through the real server (real SMTP for the mails)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from auth_server.models import AuditEvent
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    login,
    unverified_claims,
    verified_user,
)
from tests.auth_server.mfa_helpers import (
    MFA,
    enrol,
    enrolled_user,
    enrolling_login,
    first_step,
    mfa_token,
    other_code,
    require_mfa,
    totp_code,
    verify,
)
from tests.auth_server.organization_helpers import join, person
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink, body_text


@pytest.fixture(scope="module")
def running(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir = tmp_path_factory.mktemp("mfa-recovery")
    # The default lockout (5 failures); per-IP limits out of the way.
    with clocked_server(
        workdir,
        smtp_sink.port,
        rate_limit_per_ip="100000/minute",
        invitations_per_user="1000/hour",
    ) as pair:
        yield pair


def test_a_recovery_code_works_once_is_audited_and_mailed(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock, server: AuthServerProcess
) -> None:
    user = enrolled_user(http, smtp_sink, clock)
    email = user.email
    code = user.recovery_codes[3]
    # Typed loosely: lower case, without dashes.
    used = verify(http, mfa_token(http, email), recoveryCode=code.lower().replace("-", ""))
    assert used.status_code == 200, used.text
    assert unverified_claims(used.json()["data"]["accessToken"])["amr"] == ["pwd", "otp"]
    mail = body_text(smtp_sink.wait_for(email, 2))  # after the verification code's mail
    assert "recovery codes" in mail and "9 codes are left" in mail
    again = verify(http, mfa_token(http, email), recoveryCode=code)
    assert again.status_code == 401 and again.json()["code"] == "invalid_mfa_code"
    listed = http.get(MFA, headers=bearer(used.json()["data"]["accessToken"])).json()["data"]
    assert listed["recoveryCodesRemaining"] == 9
    with database(server) as db:
        audited = db.scalars(
            select(AuditEvent).where(
                AuditEvent.email == email, AuditEvent.event == "recovery_code_used"
            )
        ).all()
    assert [event.details for event in audited] == [{"remaining": 9}]


def test_regenerated_codes_replace_the_old_ones(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    email = verified_user(http, smtp_sink)
    token = login(http, email)["accessToken"]
    enrolled = enrol(http, token, clock)
    refused = http.post(f"{MFA}/recovery-codes", json={"password": "wrong"}, headers=bearer(token))
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_current_password"
    renewed = http.post(f"{MFA}/recovery-codes", json={"password": PASSWORD}, headers=bearer(token))
    assert renewed.status_code == 200, renewed.text
    fresh = renewed.json()["data"]["recoveryCodes"]
    assert len(fresh) == 10 and not set(fresh) & set(enrolled.recovery_codes)
    old = verify(http, mfa_token(http, email), recoveryCode=enrolled.recovery_codes[0])
    assert old.status_code == 401 and old.json()["code"] == "invalid_mfa_code"
    new = verify(http, mfa_token(http, email), recoveryCode=fresh[0])
    assert new.status_code == 200, new.text


def test_wrong_codes_lock_the_account_like_wrong_passwords(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    user = enrolled_user(http, smtp_sink, clock)
    right = totp_code(user.secret, clock)
    wrong = other_code(right)
    token = mfa_token(http, user.email)
    for _ in range(4):
        answer = verify(http, token, code=wrong)
        assert answer.status_code == 401 and answer.json()["code"] == "invalid_mfa_code"
    # The fifth failure fills the budget (LOGIN_MAX_FAILURES=5): the address is locked.
    locked = verify(http, token, code=wrong)
    assert locked.status_code == 429 and locked.json()["code"] == "rate_limited"
    assert int(locked.headers["Retry-After"]) > 0
    # The attempt is over, and the password login is locked too, even with the password.
    assert verify(http, token, code=right).json()["code"] == "invalid_mfa_token"
    relogin = http.post("/api/auth/login", json={"email": user.email, "password": PASSWORD})
    assert relogin.status_code == 429


def test_admin_reset_removes_the_factors_and_ends_the_sessions(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock, server: AuthServerProcess
) -> None:
    email = verified_user(http, smtp_sink)
    session = login(http, email)
    enrol(http, session["accessToken"], clock)
    user_id = unverified_claims(session["accessToken"])["sub"]
    refused = http.delete(f"/api/admin/users/{user_id}/mfa")
    assert refused.status_code == 401 and refused.json()["code"] == "invalid_service_token"
    reset = http.delete(f"/api/admin/users/{user_id}/mfa", headers=server.service_headers())
    assert reset.status_code == 200, reset.text
    assert reset.json()["data"]["revokedSessions"] == 1
    assert http.get("/api/auth/me", headers=bearer(session["accessToken"])).status_code == 401
    assert "administrator removed" in body_text(smtp_sink.wait_for(email, 2))
    # The password alone logs in again.
    assert unverified_claims(login(http, email)["accessToken"])["amr"] == ["pwd"]
    missing = http.delete(
        "/api/admin/users/00000000-0000-0000-0000-000000000000/mfa",
        headers=server.service_headers(),
    )
    assert missing.status_code == 404 and missing.json()["code"] == "user_not_found"


def test_an_organization_policy_sends_members_to_enrol(
    http: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    owner = person(http, smtp_sink, company="Strict Ltd")
    member = person(http, smtp_sink)
    join(http, smtp_sink, owner, owner.own_org, member)
    member_email = member.email

    by_member = http.patch(
        f"/api/auth/organizations/{owner.own_org}",
        json={"mfaRequired": True},
        headers=member.headers,
    )
    assert by_member.status_code == 403 and by_member.json()["code"] == "insufficient_role"
    bad = http.patch(
        f"/api/auth/organizations/{owner.own_org}",
        json={"mfaRequired": "yes"},
        headers=owner.headers,
    )
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
    require_mfa(http, owner.own_org, owner.headers)

    # The member's next login must enrol first; the token opens nothing else.
    challenge = first_step(http, member_email)
    assert challenge["mfaSetupRequired"] is True and challenge["methods"] == []
    shortcut = verify(http, challenge["mfaToken"], code="123456")
    assert shortcut.status_code == 401 and shortcut.json()["code"] == "invalid_mfa_token"
    done = enrolling_login(http, member_email, PASSWORD, clock)
    assert len(done["recoveryCodes"]) == 10
    claims = unverified_claims(done["accessToken"])
    assert claims["amr"] == ["pwd", "otp"] and claims["acr"] == "urn:rozitech:acr:mfa"
    listed = http.get(MFA, headers=bearer(done["accessToken"])).json()["data"]
    assert listed["requiredByOrganization"] is True
    # Enrolled now: the next login asks for a code, not for setup.
    assert first_step(http, member_email)["methods"] == ["totp", "recovery_code"]
