"""The hosted pages' two-step verification, through a real server, as a browser would:
enrol on /account (QR code, key, first code), sign in with password then a code from the
app (pyotp computes it), or a recovery code; wrong codes, the fifth ending the attempt with
the lockout; a replayed code; enrolment an organization's policy demands; replace the
recovery codes, turn it off."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, bearer, login, verified_user
from tests.auth_server.mfa_helpers import EnrolledUser, other_code, require_mfa, totp_code
from tests.auth_server.organization_helpers import invited, person
from tests.auth_server.pages import browser, csrf_of, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

SECRET = re.compile(r'id="totp-secret">([A-Z2-7]+)<')
CODES = re.compile(r"<li><code>([^<]+)</code></li>")


@pytest.fixture(scope="module")
def running(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    # The default lockout (5 failures); per-IP limits out of the way (one address here).
    with clocked_server(
        tmp_path_factory.mktemp("pages-mfa"), smtp_sink.port, rate_limit_per_ip="100000/minute"
    ) as pair:
        yield pair


@pytest.fixture
def api(server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def http(server: AuthServerProcess) -> Iterator[httpx.Client]:
    """A browser here; `api` is the JSON client."""
    with browser(server) as client:
        yield client


def secret_on(page: httpx.Response) -> str:
    """The authenticator app's key a setup page shows (beside its QR code)."""
    found = SECRET.search(page.text)
    assert found and "<svg" in page.text, page.text
    return found.group(1)


def enrol_on_account_page(http: httpx.Client, clock: TestClock) -> tuple[str, list[str]]:
    """Signed in: set up the app on /account; its secret and the recovery codes shown."""
    account = http.get("/account")
    assert 'id="two-step"' in account.text and "Set up an authenticator app" in account.text
    setup = post_form(http, "/account/two-step/setup", page="/account")
    assert setup.status_code == 200, setup.text
    assert "script-src" not in setup.headers["content-security-policy"]
    secret = secret_on(setup)
    done = http.post(
        "/account/two-step/confirm",
        data={"csrf_token": csrf_of(setup), "code": totp_code(secret, clock)},
    )
    assert done.status_code == 200, done.text
    codes = CODES.findall(done.text)
    assert len(codes) == 10 and done.headers["cache-control"] == "no-store"
    return secret, codes


@pytest.fixture
def enrolled(
    http: httpx.Client, api: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> EnrolledUser:
    """A user with an authenticator app set up on the account page; signed out again, and
    the clock one step on (the enrolment's code is used)."""
    email = verified_user(api, smtp_sink)
    assert sign_in(http, email, PASSWORD).status_code == 303
    secret, codes = enrol_on_account_page(http, clock)
    post_form(http, "/signout", page="/account")
    clock.advance(30)
    return EnrolledUser(email, secret, codes)


def password_step(http: httpx.Client, email: str, next: str = "/account") -> httpx.Response:
    """The sign-in form with the right password: the way to the second step."""
    response = sign_in(http, email, PASSWORD, next=next)
    assert response.status_code == 303, response.text
    return response


def code_step(http: httpx.Client, **fields: str) -> httpx.Response:
    return post_form(
        http, "/signin/mfa", page="/signin/mfa?next=/account", next="/account", **fields
    )


def test_enrol_on_the_account_page_then_sign_in_with_a_code(
    http: httpx.Client, enrolled: EnrolledUser, clock: TestClock
) -> None:
    first = password_step(http, enrolled.email)
    assert first.headers["location"] == "/signin/mfa?next=%2Faccount"
    # The pending step in its own cookie (HttpOnly, only under /signin/mfa); no session yet.
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("rz_mfa=") and "HttpOnly" in cookie and "Path=/signin/mfa" in cookie
    assert "rz_sso" not in cookie
    assert http.get("/account").status_code == 303

    page = http.get(first.headers["location"])
    assert page.status_code == 200
    assert 'autocomplete="one-time-code"' in page.text and 'id="use-recovery-code"' in page.text
    done = code_step(http, code=totp_code(enrolled.secret, clock))
    assert done.status_code == 303 and done.headers["location"] == "/account"
    cookies = done.headers.get_list("set-cookie")
    assert any(c.startswith("rz_sso=") for c in cookies)
    assert any(c.startswith('rz_mfa=""') or "rz_mfa=;" in c for c in cookies), cookies
    account = http.get("/account")
    assert account.status_code == 200 and "Recovery codes left: 10." in account.text


def test_a_wrong_code_is_an_error_on_the_field_and_a_used_code_is_refused(
    http: httpx.Client, enrolled: EnrolledUser, clock: TestClock
) -> None:
    password_step(http, enrolled.email)
    wrong = code_step(http, code=other_code(totp_code(enrolled.secret, clock)))
    assert wrong.status_code == 401
    assert 'aria-invalid="true"' in wrong.text and 'id="code-error"' in wrong.text
    assert "The code is not correct" in wrong.text
    empty = code_step(http, code="")
    assert empty.status_code == 400 and "Enter the code" in empty.text
    code = totp_code(enrolled.secret, clock)
    assert code_step(http, code=code).status_code == 303
    # The same code again, in a new sign-in: refused (a code works once).
    post_form(http, "/signout", page="/account")
    password_step(http, enrolled.email)
    replayed = code_step(http, code=code)
    assert replayed.status_code == 401 and 'id="code-error"' in replayed.text


def test_the_fifth_wrong_code_ends_the_attempt_with_the_lockout(
    http: httpx.Client, enrolled: EnrolledUser, clock: TestClock
) -> None:
    password_step(http, enrolled.email)
    right = totp_code(enrolled.secret, clock)
    wrong = other_code(right)
    for _ in range(4):
        assert code_step(http, code=wrong).status_code == 401
    ended = code_step(http, code=wrong)
    # Back on the sign-in page, with the lockout's message and Retry-After.
    assert ended.status_code == 429 and ended.headers["retry-after"]
    assert 'action="/signin"' in ended.text and "Too many failed" in ended.text
    # The attempt is over: even the right code no longer helps.
    assert 'action="/signin"' in code_step(http, code=right).text
    # And the account is locked for the password too.
    assert sign_in(http, enrolled.email, PASSWORD).status_code == 429


def test_a_recovery_code_signs_in_once(
    http: httpx.Client, enrolled: EnrolledUser, clock: TestClock
) -> None:
    password_step(http, enrolled.email)
    page = http.get("/signin/mfa?next=/account&method=recovery")
    assert 'name="recoveryCode"' in page.text and 'id="use-app"' in page.text
    code = enrolled.recovery_codes[0]
    done = post_form(
        http, "/signin/mfa", page="/signin/mfa?method=recovery", next="/account",
        method="recovery", recoveryCode=code,
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/account"
    assert "Recovery codes left: 9." in http.get("/account").text
    post_form(http, "/signout", page="/account")
    password_step(http, enrolled.email)
    again = post_form(
        http, "/signin/mfa", page="/signin/mfa?method=recovery", next="/account",
        method="recovery", recoveryCode=code,
    )  # fmt: skip
    assert again.status_code == 401 and 'id="recoveryCode-error"' in again.text


def test_no_pending_step_is_back_to_sign_in(http: httpx.Client) -> None:
    page = http.get("/signin/mfa?next=/account")
    assert page.status_code == 401 and 'action="/signin"' in page.text
    assert "sign in again" in page.text
    # Forged cookie: the same.
    http.cookies.set("rz_mfa", "not-a-token", path="/signin/mfa")
    assert http.get("/signin/mfa").status_code == 401


def test_the_second_step_needs_the_csrf_token(http: httpx.Client, enrolled: EnrolledUser) -> None:
    password_step(http, enrolled.email)
    forged = http.post("/signin/mfa", data={"code": "123456", "next": "/account"})
    assert forged.status_code == 403


def test_replace_the_recovery_codes_and_turn_it_off(
    http: httpx.Client, enrolled: EnrolledUser, clock: TestClock
) -> None:
    password_step(http, enrolled.email)
    assert code_step(http, code=totp_code(enrolled.secret, clock)).status_code == 303
    # Neither password nor code: the section says so on its fields.
    none = post_form(http, "/account/two-step/recovery-codes", page="/account")
    assert none.status_code == 400 and 'id="mfaPassword-error"' in none.text
    wrong = post_form(
        http, "/account/two-step/recovery-codes", page="/account", mfaPassword="not it at all"
    )
    assert wrong.status_code == 400 and 'id="mfaPassword-error"' in wrong.text
    clock.advance(30)
    fresh = post_form(
        http,
        "/account/two-step/recovery-codes",
        page="/account",
        mfaCode=totp_code(enrolled.secret, clock),
    )
    assert fresh.status_code == 200
    codes = CODES.findall(fresh.text)
    assert len(codes) == 10 and not set(codes) & set(enrolled.recovery_codes)

    off = post_form(http, "/account/two-step/disable", page="/account", mfaPassword=PASSWORD)
    assert off.status_code == 303
    account = http.get(off.headers["location"])
    assert "Two-step verification is turned off." in account.text
    assert "Set up an authenticator app" in account.text
    # The password alone signs in again.
    post_form(http, "/signout", page="/account")
    assert password_step(http, enrolled.email).headers["location"] == "/account"


def test_a_policy_sends_a_member_without_a_factor_to_enrol(
    http: httpx.Client, api: httpx.Client, smtp_sink: SmtpSink, clock: TestClock
) -> None:
    email = verified_user(api, smtp_sink)
    owner = login(api, email)
    require_mfa(api, owner["organization"]["id"], bearer(owner["accessToken"]))

    first = password_step(http, email, next="/account#sessions")
    assert first.headers["location"].startswith("/signin/mfa/setup?next=")
    setup = http.get(first.headers["location"])
    assert setup.status_code == 200 and "Your organization requires" in setup.text
    secret = secret_on(setup)
    # Reloaded: the same key (the app may have it already).
    assert secret_on(http.get(first.headers["location"])) == secret
    wrong = http.post(
        "/signin/mfa/setup",
        data={"csrf_token": csrf_of(setup), "code": "12", "next": "/account#sessions"},
    )
    assert wrong.status_code == 401 and 'id="code-error"' in wrong.text
    assert secret in wrong.text
    done = http.post(
        "/signin/mfa/setup",
        data={
            "csrf_token": csrf_of(setup),
            "code": totp_code(secret, clock),
            "next": "/account#sessions",
        },
    )
    assert done.status_code == 200, done.text
    assert len(CODES.findall(done.text)) == 10 and 'href="/account#sessions"' in done.text
    assert any(c.startswith("rz_sso=") for c in done.headers.get_list("set-cookie"))
    assert "Recovery codes left: 10." in http.get("/account").text


def test_signing_in_on_the_invitation_page_takes_the_second_step_first(
    http: httpx.Client,
    api: httpx.Client,
    enrolled: EnrolledUser,
    smtp_sink: SmtpSink,
    clock: TestClock,
) -> None:
    inviter = person(api, smtp_sink)
    token = invited(api, smtp_sink, inviter, inviter.own_org, enrolled.email)
    step = post_form(
        http, "/accept-invitation/signin", page="/accept-invitation",
        email=enrolled.email, password=PASSWORD, token=token,
    )  # fmt: skip
    # No session and no membership before the code; the token stays out of the URLs.
    assert step.status_code == 303
    assert step.headers["location"] == "/signin/mfa?next=%2Faccept-invitation"
    assert http.get("/account").status_code == 303
    done = post_form(
        http, "/signin/mfa", page=step.headers["location"], next="/accept-invitation",
        code=totp_code(enrolled.secret, clock),
    )  # fmt: skip
    assert done.status_code == 303 and done.headers["location"] == "/accept-invitation"
    # Signed in now: the invitation (the mailed link again) joins.
    joined = post_form(http, "/accept-invitation", page="/accept-invitation", token=token)
    assert joined.status_code == 303 and joined.headers["location"] == "/account?notice=joined"
