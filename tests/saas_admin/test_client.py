"""AuthServerClient: every method against the real auth server process."""

from __future__ import annotations

import re

import pytest
from rozitech_auth.client import (
    AuthServerClient,
    get_auth_client,
)
from rozitech_auth.errors import AuthServerRejected, AuthServerUnavailable, EmailAlreadyExists

from tests.auth_server.helpers import PASSWORD, new_email
from tests.saas_admin.helpers import Account, HangingServer
from tests.support.auth_process import AuthServerProcess
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink, body_text, verification_code


@pytest.fixture
def client(auth_server: AuthServerProcess) -> AuthServerClient:
    return AuthServerClient(auth_server.base_url)


def signup(client: AuthServerClient, email: str, password: str = PASSWORD) -> dict[str, object]:
    return client.signup(email, password, "Ann", "Bee", "Acme Ltd", products=["teamspace"])


def test_get_auth_client_is_one_shared_instance(auth_server: AuthServerProcess) -> None:
    assert get_auth_client() is get_auth_client()
    assert get_auth_client().base_url == auth_server.base_url


def test_health_check(client: AuthServerClient) -> None:
    assert client.health_check()["status"] == "healthy"


def test_health_check_of_an_unreachable_server_does_not_raise() -> None:
    client = AuthServerClient(f"http://127.0.0.1:{free_port()}")
    body = client.health_check()
    assert body["status"] == "unreachable"
    assert body["error"]


def test_signup_verify_email_login_verify_token(
    client: AuthServerClient, smtp_sink: SmtpSink
) -> None:
    email = new_email()
    created = signup(client, email)
    assert created["email"] == email
    assert created["emailVerified"] is False

    # Not verified yet: 403 from the server, its code kept.
    with pytest.raises(AuthServerRejected) as not_verified:
        client.login(email, PASSWORD)
    assert (not_verified.value.status, not_verified.value.code) == (403, "email_not_verified")

    code = verification_code(smtp_sink.wait_for(email))
    assert client.verify_email(email, code) == {"email": email, "emailVerified": True}

    session = client.login(email, PASSWORD)
    assert session["tokenType"] == "Bearer"
    assert session["user"]["email"] == email
    assert session["organization"]["role"] == "owner"
    assert session["licenses"]["teamspace"]["status"] == "trial"

    identity = client.verify_token(session["accessToken"])
    assert identity["user"]["id"] == session["user"]["id"]
    assert identity["organization"]["id"] == session["organization"]["id"]
    assert set(identity) == {"user", "organization", "licenses", "memberships"}


def test_signup_with_an_existing_email_is_a_409(client: AuthServerClient, account: Account) -> None:
    with pytest.raises(EmailAlreadyExists) as exc:
        signup(client, account.email)
    assert exc.value.status == 409
    assert exc.value.code == "email_exists"


def test_signup_validation_errors_keep_their_fields(client: AuthServerClient) -> None:
    with pytest.raises(AuthServerRejected) as exc:
        signup(client, new_email(), password="short")
    assert exc.value.status == 400
    assert "password" in exc.value.field_errors


def test_wrong_verification_code(client: AuthServerClient) -> None:
    email = new_email()
    signup(client, email)
    with pytest.raises(AuthServerRejected) as exc:
        client.verify_email(email, "000000")
    assert exc.value.status == 400


def test_login_with_a_wrong_password_is_401_with_the_servers_message(
    client: AuthServerClient, account: Account
) -> None:
    with pytest.raises(AuthServerRejected) as exc:
        client.login(account.email, "not the password at all")
    assert exc.value.status == 401
    assert exc.value.message == "Invalid email or password"
    assert exc.value.code == "invalid_credentials"


def test_verify_token_rejects_a_bad_token(client: AuthServerClient, account: Account) -> None:
    tampered = account.access_token[:-4] + (
        "AAAA" if account.access_token[-4:] != "AAAA" else "BBBB"
    )
    with pytest.raises(AuthServerRejected) as exc:
        client.verify_token(tampered)
    assert (exc.value.status, exc.value.code) == (401, "invalid_token")


def test_refresh_token_rotates(client: AuthServerClient, account: Account) -> None:
    rotated = client.refresh_token(account.refresh_token)
    assert rotated["refreshToken"] != account.refresh_token
    assert client.verify_token(rotated["accessToken"])["user"]["id"] == account.user_id
    with pytest.raises(AuthServerRejected) as exc:
        client.refresh_token("not-a-refresh-token")
    assert exc.value.code == "invalid_refresh_token"


def test_logout_stops_the_sessions_access_tokens(
    client: AuthServerClient, account: Account
) -> None:
    # True on success, as the original client returned.
    assert client.logout(account.refresh_token) is True
    assert client.logout(account.refresh_token) is True  # idempotent
    with pytest.raises(AuthServerRejected) as exc:
        client.verify_token(account.access_token)
    assert exc.value.status == 401


def test_fetch_jwks(client: AuthServerClient) -> None:
    keys = client.fetch_jwks()["keys"]
    assert keys and all(key["kty"] == "RSA" and key["alg"] == "RS256" for key in keys)


def test_password_reset_methods(
    client: AuthServerClient, auth_server: AuthServerProcess, smtp_sink: SmtpSink, account: Account
) -> None:
    before = len(smtp_sink.messages_to(account.email))
    assert client.request_password_reset(account.email) is True
    assert client.request_password_reset(new_email()) is True  # unknown account: the same
    message = smtp_sink.wait_for(account.email, count=before + 1)
    match = re.search(r"token=([A-Za-z0-9_\-]{20,})", body_text(message)) or re.search(
        r"\b([A-Za-z0-9_\-]{32,})\b", body_text(message)
    )
    assert match, "no reset token in the e-mail"
    with pytest.raises(AuthServerRejected):
        client.reset_password(match.group(1), "short")
    assert client.reset_password(match.group(1), "a brand new long passphrase") is True
    assert client.login(account.email, "a brand new long passphrase")["accessToken"]
    with pytest.raises(AuthServerRejected):
        client.reset_password(match.group(1), "another new long passphrase")


def test_a_dropped_connection_retries_a_get_once_and_never_a_post() -> None:
    dropping = HangingServer(drop=True).start()
    try:
        client = AuthServerClient(dropping.base_url, timeout=2)
        with pytest.raises(AuthServerUnavailable):
            client.verify_token("x.y.z")
        assert dropping.accepted == 2
        with pytest.raises(AuthServerUnavailable):
            client.login("a@example.com", "whatever password")
        assert dropping.accepted == 3
    finally:
        dropping.stop()


def test_signup_takes_the_original_clients_single_dict(
    client: AuthServerClient, smtp_sink: SmtpSink
) -> None:
    # Code written against the original client: one dict with the wire's field names.
    email = new_email()
    created = client.signup(
        {
            "email": email,
            "password": PASSWORD,
            "firstName": "Ann",
            "lastName": "Bee",
            "company": "Dict Ltd",
            "phone": "+27 11 555 0100",
            "products": ["teamspace"],
        }
    )
    assert created["email"] == email and created["emailVerified"] is False
    client.verify_email(email, verification_code(smtp_sink.wait_for(email)))
    data = client.login(email, PASSWORD)
    assert data["organization"]["name"] == "Dict Ltd"
    assert data["user"]["firstName"] == "Ann"
    assert set(data["licenses"]) == {"teamspace"}
    # And keyword arguments, by name, as before.
    other = new_email()
    by_name = client.signup(
        email=other, password=PASSWORD, first_name="Bob", last_name="Cee", company="Kw Ltd"
    )
    assert by_name["email"] == other
