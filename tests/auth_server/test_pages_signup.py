"""Sign up and verify the e-mail address through the pages, the code read from the mail."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from sqlalchemy import select

from auth_server.models import User
from auth_server.schemas import MAX_SIGNUP_PRODUCTS
from tests.auth_server.helpers import PASSWORD, database, login, new_email
from tests.auth_server.pages import browser, post_form, sign_in
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink, verification_code


def test_sign_up_verify_and_sign_in(
    auth_server: AuthServerProcess, client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = new_email()
    with browser(auth_server) as http:
        done = post_form(
            http,
            "/signup",
            email=email,
            password=PASSWORD,
            firstName="Ann",
            lastName="Bee",
            company="Acme Ltd",
            products=["teamspace"],
        )
        assert done.status_code == 303, done.text
        location = urlsplit(done.headers["location"])
        assert location.path == "/verify-email" and parse_qs(location.query)["email"] == [email]
        # Not verified yet: the sign-in page says so and links to the code page.
        refused = sign_in(http, email, PASSWORD)
        assert refused.status_code == 403 and 'href="/verify-email?email=' in refused.text

        wrong = post_form(http, "/verify-email", email=email, code="000000")
        assert wrong.status_code == 400 and "invalid or has expired" in wrong.text
        code = verification_code(smtp_sink.wait_for(email))
        verified = post_form(http, "/verify-email", email=email, code=code)
        assert verified.status_code == 303
        assert verified.headers["location"].startswith("/signin?notice=verified")
        page = http.get(verified.headers["location"])
        assert "Your email address is verified" in page.text and f'value="{email}"' in page.text
        assert sign_in(http, email, PASSWORD).status_code == 303
    # The account is the API's: the trial license and the names are there.
    identity = login(client, email)
    assert identity["user"]["firstName"] == "Ann" and "teamspace" in identity["licenses"]


def test_sign_up_problems_are_tied_to_their_fields(auth_server: AuthServerProcess) -> None:
    with browser(auth_server) as http:
        shape = post_form(
            http, "/signup", email="not-an-email", password="short", firstName="Ann", company="A"
        )
        # The request's shape first, then the password policy: in the API's order.
        policy = post_form(
            http, "/signup", email=new_email(), password="short", firstName="Ann",
            lastName="Bee", company="A",
        )  # fmt: skip
    assert shape.status_code == policy.status_code == 400
    for page, field in ((shape, "email"), (shape, "lastName"), (policy, "password")):
        assert f'<p class="error" id="{field}-error">' in page.text
        assert f'aria-invalid="true" aria-describedby="{field}-error' in page.text
    # What was typed stays, but never the password.
    assert 'value="Ann"' in shape.text and "short" not in shape.text + policy.text


def test_too_many_products_are_refused_on_the_form(auth_server: AuthServerProcess) -> None:
    email = new_email()
    with browser(auth_server) as http:
        page = post_form(
            http, "/signup", email=email, password=PASSWORD, firstName="Ann", lastName="Bee",
            company="Acme Ltd", products=["teamspace"] * (MAX_SIGNUP_PRODUCTS + 1),
        )  # fmt: skip
    assert page.status_code == 400
    assert '<p class="error" id="products-error">' in page.text
    with database(auth_server) as db:
        assert db.scalar(select(User).where(User.email == email)) is None


def test_resend_answers_alike_for_unknown_addresses(
    auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    email = new_email()
    with browser(auth_server) as http:
        post_form(
            http, "/signup", email=email, password=PASSWORD, firstName="A", lastName="B",
            company="C",
        )  # fmt: skip
        known = post_form(http, "/resend-verification", page="/verify-email", email=email)
        unknown = post_form(http, "/resend-verification", page="/verify-email", email=f"x{email}")
    assert known.status_code == unknown.status_code == 303
    assert urlsplit(known.headers["location"]).query.endswith("notice=resent")
    assert urlsplit(unknown.headers["location"]).query.endswith("notice=resent")
    assert verification_code(smtp_sink.wait_for(email, count=2))
