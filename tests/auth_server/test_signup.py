"""Sign-up, its organization and trial licenses, and e-mail verification."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import select, update

from auth_server.models import EmailVerification, Organization, User
from auth_server.schemas import MAX_SIGNUP_PRODUCTS
from tests.auth_server.helpers import (
    PASSWORD,
    database,
    login,
    new_email,
    signup,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink, verification_code


def verify(client: httpx.Client, email: str, code: str) -> httpx.Response:
    return client.post("/api/auth/verify-email", json={"email": email, "code": code})


def test_signup_creates_owner_organization_and_trials(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink, company="Globex Corp", products=["insurance"])
    session = login(client, email)
    assert session["organization"]["name"] == "Globex Corp"
    assert session["organization"]["slug"].startswith("globex-corp")
    assert session["organization"]["role"] == "owner"
    trial = session["licenses"]["insurance"]
    assert trial["status"] == "trial"
    expires = datetime.fromisoformat(trial["expiresAt"])
    assert timedelta(days=13) < expires - datetime.now(UTC) <= timedelta(days=14)


def test_same_company_gets_distinct_slugs(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    first = login(client, verified_user(client, smtp_sink, company="Same Name Inc"))
    second = login(client, verified_user(client, smtp_sink, company="Same Name Inc"))
    assert first["organization"]["slug"] != second["organization"]["slug"]
    assert first["organization"]["id"] != second["organization"]["id"]


def test_email_is_normalized_and_unique(client: httpx.Client) -> None:
    email = new_email()
    assert signup(client, f"  {email.upper()} ").json()["data"]["email"] == email
    duplicate = signup(client, email.upper())
    assert duplicate.status_code == 409
    assert duplicate.json()["code"] == "email_exists"


def full_width(text: str) -> str:
    """ASCII letters, digits and signs in their full-width compatibility forms."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def test_compatibility_forms_are_one_address(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    """Before NFKC, the full-width twin of an address was a second account."""
    email = verified_user(client, smtp_sink)
    local, domain = email.split("@")
    twin = f"{full_width(local)}@{domain}"
    duplicate = signup(client, twin)
    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["code"] == "email_exists"
    assert login(client, twin)["user"]["email"] == email


def test_mixed_script_lookalikes_are_refused(client: httpx.Client) -> None:
    # "paypal" with its first a Cyrillic (U+0430), among Latin letters.
    deceptive = f"p\u0430ypal-{uuid.uuid4().hex[:8]}@example.com"
    response = signup(client, deceptive)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"
    assert "email" in response.json()["errors"]
    # One script throughout is fine, whatever the script (digits belong to none).
    cyrillic = f"\u0438\u0432\u0430\u043d-{uuid.uuid4().int % 10**12}@example.com"
    assert signup(client, cyrillic).status_code == 201


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1!", "Must be at least 10 characters"),
        ("password123", "This password is too common"),
        ("qwertyuiop", "This password is too common"),
    ],
)
def test_weak_passwords_get_field_errors(client: httpx.Client, password: str, message: str) -> None:
    response = signup(client, new_email(), password=password)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "validation_error"
    assert message in body["errors"]["password"]


def test_password_equal_to_email_is_refused(client: httpx.Client) -> None:
    email = new_email()
    response = signup(client, email, password=email)
    assert response.status_code == 400
    assert "Must not be your email address" in response.json()["errors"]["password"]


def test_unknown_product_is_refused_and_nothing_is_written(
    client: httpx.Client, auth_server: AuthServerProcess
) -> None:
    email = new_email()
    response = signup(client, email, products=["teamspace", "crystal-ball"])
    assert response.status_code == 400
    assert response.json()["errors"]["products"] == ["Unknown product: crystal-ball"]
    with database(auth_server) as db:
        assert db.scalar(select(User).where(User.email == email)) is None


def test_too_many_products_are_refused_and_nothing_is_written(
    client: httpx.Client, auth_server: AuthServerProcess
) -> None:
    email = new_email()
    response = signup(client, email, products=["teamspace"] * (MAX_SIGNUP_PRODUCTS + 1))
    assert response.status_code == 400
    body = response.json()
    # The envelope of every other field error: the field named, its messages a list.
    assert body["success"] is False and body["code"] == "validation_error"
    assert list(body["errors"]) == ["products"] and body["errors"]["products"]
    with database(auth_server) as db:
        assert db.scalar(select(User).where(User.email == email)) is None
    # The maximum itself is accepted (a repeated code counts once).
    at_most = signup(client, email, products=["teamspace"] * MAX_SIGNUP_PRODUCTS)
    assert at_most.status_code == 201, at_most.text


@pytest.mark.parametrize(
    ("field", "value"),
    [("email", "not-an-email"), ("firstName", ""), ("company", None), ("products", "teamspace")],
)
def test_invalid_fields_are_named(client: httpx.Client, field: str, value: object) -> None:
    response = signup(client, new_email(), **{field: value})
    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_verification_code_is_single_use(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = new_email()
    signup(client, email)
    code = verification_code(smtp_sink.wait_for(email))
    assert verify(client, email, code).status_code == 200
    again = verify(client, email, code)
    assert again.status_code == 400
    assert again.json()["code"] == "invalid_code"


def test_wrong_and_unknown_get_the_same_answer(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = new_email()
    signup(client, email)
    code = verification_code(smtp_sink.wait_for(email))
    wrong = verify(client, email, f"{(int(code) + 1) % 10**6:06d}")
    unknown = verify(client, new_email(), code)
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()


def test_five_wrong_codes_lock_the_code(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = new_email()
    signup(client, email)
    code = verification_code(smtp_sink.wait_for(email))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(5):
        assert verify(client, email, wrong).status_code == 400
    locked = verify(client, email, code)
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert int(locked.headers["Retry-After"]) > 0
    # A new code unlocks verification.
    assert client.post("/api/auth/resend-verification", json={"email": email}).status_code == 200
    fresh = verification_code(smtp_sink.wait_for(email, count=2))
    assert verify(client, email, fresh).status_code == 200


def test_expired_code_is_refused(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email = new_email()
    user_id = signup(client, email).json()["data"]["userId"]
    code = verification_code(smtp_sink.wait_for(email))
    with database(auth_server) as db:
        db.execute(
            update(EmailVerification)
            .where(EmailVerification.user_id == uuid.UUID(user_id))
            .values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
        )
        db.commit()
    assert verify(client, email, code).json()["code"] == "invalid_code"


def test_resend_replaces_the_code_and_never_enumerates(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = new_email()
    signup(client, email)
    old = verification_code(smtp_sink.wait_for(email))
    known = client.post("/api/auth/resend-verification", json={"email": email})
    unknown = client.post("/api/auth/resend-verification", json={"email": new_email()})
    assert known.status_code == unknown.status_code == 200
    assert known.json() == unknown.json()
    new = verification_code(smtp_sink.wait_for(email, count=2))
    if new != old:
        assert verify(client, email, old).status_code == 400
    assert verify(client, email, new).status_code == 200


def test_resend_to_a_verified_account_sends_nothing(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    assert client.post("/api/auth/resend-verification", json={"email": email}).status_code == 200
    # A later message to someone else proves the mailer has drained its queue.
    marker = new_email()
    signup(client, marker)
    smtp_sink.wait_for(marker)
    assert len(smtp_sink.messages_to(email)) == 1


def test_codes_and_passwords_are_stored_hashed(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email = new_email()
    signup(client, email, company="Hash Check")
    code = verification_code(smtp_sink.wait_for(email))
    with database(auth_server) as db:
        user = db.scalar(select(User).where(User.email == email))
        assert user is not None
        pending = db.get(EmailVerification, user.id)
        assert pending is not None
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        assert pending.code_hash.startswith("$argon2id$") and code not in pending.code_hash
        assert db.scalar(select(Organization).where(Organization.name == "Hash Check"))
