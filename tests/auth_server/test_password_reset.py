"""Forgotten password, reset, change and logout-all against the real server and SMTP."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth_server.helpers import PASSWORD, bearer, login, new_email, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server, reset_token
from tests.support.smtp import SmtpSink, body_text

NEW_PASSWORD = "a brand new passphrase"


def forgot(client: httpx.Client, email: str) -> httpx.Response:
    return client.post("/api/auth/forgot-password", json={"email": email})


def reset(client: httpx.Client, token: str, password: str = NEW_PASSWORD) -> httpx.Response:
    return client.post("/api/auth/reset-password", json={"token": token, "password": password})


def test_reset_flow_end_to_end(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email = verified_user(client, smtp_sink)
    first = login(client, email)
    second = login(client, email)

    assert forgot(client, email).status_code == 200
    message = smtp_sink.wait_for(email, count=2)  # 1: the verification code
    link = next(line for line in body_text(message).splitlines() if "token=" in line)
    # The default link is this server's own page, the token in the fragment.
    assert link.startswith(f"{auth_server.base_url}/reset-password#token=")
    token = reset_token(message)
    assert len(token) >= 43  # 256 bits, URL-safe base64
    page = client.get("/reset-password")
    assert page.status_code == 200 and '<form method="post" action="/reset-password"' in page.text
    assert page.headers["cache-control"] == "no-store"
    # No inline script: the page's one script is its own file (see test_pages_password).
    assert "script-src 'self';" in page.headers["content-security-policy"]
    assert client.get("/openapi.json").status_code == 200

    weak = reset(client, token, "short")
    assert weak.status_code == 400 and weak.json()["code"] == "validation_error"
    assert "password" in weak.json()["errors"]

    done = reset(client, token)
    assert done.status_code == 200, done.text
    assert done.json()["success"] is True

    # Every session ended: access and refresh tokens of both are refused.
    for session in (first, second):
        me = client.get("/api/auth/me", headers=bearer(session["accessToken"]))
        assert me.status_code == 401 and me.json()["code"] == "invalid_token"
        refresh = client.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
        assert refresh.status_code == 401
    old = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert old.status_code == 401
    login(client, email, NEW_PASSWORD)

    notice = smtp_sink.wait_for(email, count=3)
    assert "password was changed" in notice["Subject"]

    # Single use.
    again = reset(client, token, "yet another passphrase")
    assert again.status_code == 400 and again.json()["code"] == "invalid_token"


def test_a_new_request_invalidates_the_older_token(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    forgot(client, email)
    older = reset_token(smtp_sink.wait_for(email, count=2))
    forgot(client, email)
    newer = reset_token(smtp_sink.wait_for(email, count=3))
    assert older != newer
    refused = reset(client, older)
    assert refused.status_code == 400 and refused.json()["code"] == "invalid_token"
    assert reset(client, newer).status_code == 200


def test_forgot_password_does_not_enumerate(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    existing = verified_user(client, smtp_sink)
    unknown = new_email()
    for_unknown = forgot(client, unknown)
    for_existing = forgot(client, existing)
    assert for_unknown.status_code == for_existing.status_code == 200
    assert for_unknown.json() == for_existing.json()
    assert for_unknown.headers.get("content-length") == for_existing.headers.get("content-length")
    # The existing account gets exactly one reset mail; the unknown address gets nothing.
    smtp_sink.wait_for(existing, count=2)
    assert len(smtp_sink.messages_to(existing)) == 2
    assert smtp_sink.messages_to(unknown) == []


@pytest.mark.parametrize(
    "body",
    [
        {"token": "not-a-real-token", "password": NEW_PASSWORD},
        {"token": "x" * 500, "password": NEW_PASSWORD},
    ],
)
def test_unknown_token_is_invalid_token(client: httpx.Client, body: dict[str, str]) -> None:
    response = client.post("/api/auth/reset-password", json=body)
    assert response.status_code == 400 and response.json()["code"] == "invalid_token"


@pytest.mark.parametrize("body", [{}, {"token": ""}, {"token": "t", "password": ""}, []])
def test_bad_reset_bodies_are_validation_errors(client: httpx.Client, body: object) -> None:
    response = client.post("/api/auth/reset-password", json=body)
    assert response.status_code == 400
    assert response.json()["code"] == "validation_error"


@pytest.fixture(scope="module")
def clocked(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("reset-clock")
    with clocked_server(workdir, smtp_sink.port) as running:
        yield running


def test_reset_token_expires_after_an_hour(
    clocked: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = clocked
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
        forgot(http, email)
        late = reset_token(smtp_sink.wait_for(email, count=2))
        try:
            clock.advance(3601)
            expired = reset(http, late)
            assert expired.status_code == 400 and expired.json()["code"] == "invalid_token"
            forgot(http, email)  # a token made "now" (in the moved clock) still works
            fresh = reset_token(smtp_sink.wait_for(email, count=3))
            clock.advance(3500)
            assert reset(http, fresh).status_code == 200
        finally:
            clock.reset()


def test_change_password_keeps_the_current_session_only(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    current = login(client, email)
    other = login(client, email)
    url = "/api/auth/change-password"
    auth = bearer(current["accessToken"])

    wrong = client.post(
        url, headers=auth, json={"currentPassword": "not it at all", "newPassword": NEW_PASSWORD}
    )
    assert wrong.status_code == 400 and wrong.json()["code"] == "invalid_current_password"
    weak = client.post(url, headers=auth, json={"currentPassword": PASSWORD, "newPassword": "x"})
    assert weak.status_code == 400 and "newPassword" in weak.json()["errors"]
    anonymous = client.post(url, json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD})
    assert anonymous.status_code == 401

    changed = client.post(
        url, headers=auth, json={"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD}
    )
    assert changed.status_code == 200, changed.text
    assert client.get("/api/auth/me", headers=auth).status_code == 200
    assert client.get("/api/auth/me", headers=bearer(other["accessToken"])).status_code == 401
    gone = client.post("/api/auth/refresh", json={"refreshToken": other["refreshToken"]})
    assert gone.status_code == 401
    kept = client.post("/api/auth/refresh", json={"refreshToken": current["refreshToken"]})
    assert kept.status_code == 200
    login(client, email, NEW_PASSWORD)
    assert "password was changed" in smtp_sink.wait_for(email, count=2)["Subject"]


def test_logout_all_revokes_every_session(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = verified_user(client, smtp_sink)
    sessions = [login(client, email) for _ in range(3)]
    out = client.post("/api/auth/logout-all", headers=bearer(sessions[0]["accessToken"]))
    assert out.status_code == 200 and out.json()["data"]["revokedSessions"] == 3
    for session in sessions:
        assert client.get("/api/auth/me", headers=bearer(session["accessToken"])).status_code == 401
        refresh = client.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
        assert refresh.status_code == 401
    assert client.post("/api/auth/logout-all").status_code == 401
    login(client, email)  # the account itself is fine
