"""The hosted invitation page through the real server: the link read from the real SMTP
sink, joined signed in, by signing in, or by signing up; CSRF, another address, a used and
an expired invitation refused on the page with the domain's text."""

from __future__ import annotations

import httpx

from tests.auth_server.helpers import PASSWORD, new_email
from tests.auth_server.organization_helpers import Person, invited, members, person
from tests.auth_server.pages import browser, csrf_of, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock
from tests.support.smtp import SmtpSink, verification_code

PAGE = "/accept-invitation"


def test_signed_in_review_then_join(
    server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    guest = person(http, smtp_sink)
    token = invited(http, smtp_sink, owner, owner.own_org, guest.email, "admin")
    with browser(server) as page:
        assert sign_in(page, guest.email, PASSWORD).status_code == 303
        start = page.get(PAGE)
        # The token is only in the fragment: the page moves it in with its own script.
        assert start.status_code == 200 and 'src="/static/fragment-token.js"' in start.text
        assert (
            "data-autosubmit" in start.text
            and "script-src 'self'" in (start.headers["content-security-policy"])
        )
        csrf = csrf_of(start)
        review = page.post(f"{PAGE}/review", data={"csrf_token": csrf, "token": token})
        assert review.status_code == 200 and "Join Invite Corp as admin" in review.text
        # Without the CSRF token nothing is joined.
        forged = page.post(PAGE, data={"token": token})
        assert forged.status_code == 403 and guest.user_id not in members(
            http, owner, owner.own_org
        )
        joined = page.post(PAGE, data={"csrf_token": csrf, "token": token})
        assert joined.status_code == 303 and joined.headers["location"] == "/account?notice=joined"
        assert "You joined the organization." in page.get(joined.headers["location"]).text
        assert members(http, owner, owner.own_org)[guest.user_id] == "admin"
        # Used once: the second time the page says why.
        again = page.post(PAGE, data={"csrf_token": csrf, "token": token})
        assert again.status_code == 400 and "already used" in again.text


def test_another_address_is_refused_on_the_page(
    server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    other = person(http, smtp_sink)
    token = invited(http, smtp_sink, owner, owner.own_org, new_email())
    with browser(server) as page:
        sign_in(page, other.email, PASSWORD)
        review = post_form(page, f"{PAGE}/review", PAGE, token=token)
        assert review.status_code == 403 and "sent to another e-mail address" in review.text
        refused = post_form(page, PAGE, token=token)
        assert refused.status_code == 403 and "sent to another e-mail address" in refused.text
    assert other.user_id not in members(http, owner, owner.own_org)


def test_sign_in_and_join_and_expired(
    running: tuple[AuthServerProcess, TestClock],
    http: httpx.Client,
    smtp_sink: SmtpSink,
    owner: Person,
) -> None:
    server, clock = running
    guest = person(http, smtp_sink)
    token = invited(http, smtp_sink, owner, owner.own_org, guest.email)
    late = person(http, smtp_sink)
    expiring = invited(http, smtp_sink, owner, owner.own_org, late.email)
    with browser(server) as page:
        start = page.get(PAGE)
        assert "Sign in and join" in start.text and "Create an account and join" in start.text
        wrong = post_form(page, f"{PAGE}/signin", PAGE, email=guest.email, password="x" * 12,
                          token=token)  # fmt: skip
        assert wrong.status_code == 401 and guest.user_id not in members(http, owner, owner.own_org)
        done = post_form(page, f"{PAGE}/signin", PAGE, email=guest.email, password=PASSWORD,
                         token=token)  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/account?notice=joined"
        assert page.get("/account").status_code == 200  # signed in, too
    assert guest.user_id in members(http, owner, owner.own_org)
    clock.advance(7 * 86400 + 1)
    try:
        with browser(server) as page:
            expired = post_form(page, f"{PAGE}/signin", PAGE, email=late.email,
                                password=PASSWORD, token=expiring)  # fmt: skip
            # Signed in all the same; the page says why the invitation did not work.
            assert expired.status_code == 400 and "expired" in expired.text
            assert page.get("/account").status_code == 200
    finally:
        clock.reset()


def test_sign_up_with_the_invitation(
    server: AuthServerProcess, http: httpx.Client, smtp_sink: SmtpSink, owner: Person
) -> None:
    email = new_email()
    token = invited(http, smtp_sink, owner, owner.own_org, email)
    with browser(server) as page:
        form = post_form(page, f"{PAGE}/signup", PAGE, token=token)
        assert form.status_code == 200 and 'name="invitation"' in form.text
        assert 'name="company"' not in form.text
        fields = {"password": PASSWORD, "firstName": "In", "lastName": "Vited", "invitation": token}
        mismatch = post_form(page, "/signup", email=new_email(), **fields)
        assert mismatch.status_code == 403 and "sent to another e-mail address" in mismatch.text
        assert 'name="invitation"' in mismatch.text  # still carried
        created = post_form(page, "/signup", email=email, **fields)
        assert created.status_code == 303 and created.headers["location"].startswith(
            "/verify-email?"
        )
        code = verification_code(smtp_sink.wait_for(email, 2))
        verified = post_form(page, "/verify-email", email=email, code=code)
        assert verified.status_code == 303
    session = http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).json()
    assert session["data"]["organization"]["id"] == owner.own_org
    # Only ever in POST bodies: not in the access log.
    assert token not in server.log()
