"""Erasure of a user (GDPR): by a trusted service (DELETE /api/admin/users/{id}) or by the
user (DELETE /api/auth/account with the password). Sessions end through the revocation
feed, personal data is gone, the audit trail keeps the user id only."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from sqlalchemy import select

from auth_server.models import (
    AuditEvent,
    AuthSession,
    LoginLock,
    Membership,
    PasswordReset,
    User,
)
from auth_server.ratelimit import account_key
from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    database,
    drain_feed,
    feed_cursor,
    login,
    signup,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


def delete_account(client: httpx.Client, token: str, password: str) -> httpx.Response:
    return client.request(
        "DELETE", "/api/auth/account", json={"password": password}, headers=bearer(token)
    )


def leave_traces(client: httpx.Client, email: str) -> list[dict[str, Any]]:
    """Two sessions, a failed login, a pending reset link: personal data in every table."""
    sessions = [login(client, email), login(client, email)]
    wrong = client.post("/api/auth/login", json={"email": email, "password": "wrong password"})
    assert wrong.status_code == 401
    assert client.post("/api/auth/forgot-password", json={"email": email}).status_code == 200
    return sessions


def traced_user(
    client: httpx.Client, smtp: SmtpSink, server: AuthServerProcess
) -> tuple[str, list[dict[str, Any]], str, str]:
    """A verified user with traces everywhere (leave_traces), their id, and the feed's end
    before their erasure."""
    email = verified_user(client, smtp)
    sessions = leave_traces(client, email)
    user_id: str = sessions[0]["user"]["id"]
    return email, sessions, user_id, feed_cursor(client, server)


def assert_erased(
    client: httpx.Client,
    server: AuthServerProcess,
    email: str,
    user_id: str,
    sessions: list[dict[str, Any]],
    cursor: str,
    reason: str,
) -> None:
    uid = uuid.UUID(user_id)
    for session in sessions:
        assert client.get("/api/auth/me", headers=bearer(session["accessToken"])).status_code == 401
        refreshed = client.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
        assert refreshed.status_code == 401
    # Verifiers learn it through the feed: one event per session and one for the user.
    events, _ = drain_feed(client, server, cursor)
    mine = [e for e in events if e["sub"] == user_id]
    sids = {unverified_claims(s["accessToken"])["sid"] for s in sessions}
    assert {e["sid"] for e in mine if e["type"] == "session"} == sids
    assert any(e["type"] == "user" and e["reason"] == reason for e in mine)
    with database(server) as db:
        assert db.get(User, uid) is None
        assert not db.scalars(select(Membership).where(Membership.user_id == uid)).all()
        assert not db.scalars(select(AuthSession).where(AuthSession.user_id == uid)).all()
        assert not db.scalars(select(PasswordReset).where(PasswordReset.user_id == uid)).all()
        assert db.get(LoginLock, account_key(email)) is None
        trail = db.scalars(select(AuditEvent).where(AuditEvent.user_id == uid)).all()
        assert {"login", "login_failed", "user_deleted"} <= {event.event for event in trail}
        # The trail keeps the user id and what happened; no address, IP or user agent of
        # the user (the service's own address stays on the event of its erasure).
        for event in trail:
            assert event.email is None
            if event.details != {"actor": "service"}:
                assert (event.ip_address, event.user_agent) == (None, None)
        assert not db.scalars(select(AuditEvent).where(AuditEvent.email == email)).all()
    # The account is gone for logins, and the address is free again.
    gone = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert gone.status_code == 401
    assert signup(client, email).status_code == 201


def test_a_service_erases_a_user(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email, sessions, user_id, cursor = traced_user(client, smtp_sink, auth_server)
    path = f"/api/admin/users/{user_id}"
    refused = client.delete(path, headers={"X-Service-Token": "wrong"})
    assert refused.status_code == 401
    refused = client.delete(path, headers=bearer(sessions[0]["accessToken"]))
    assert refused.status_code == 401

    deleted = client.delete(path, headers=auth_server.service_headers())
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"] == {"id": user_id, "deleted": True, "revokedSessions": 2}
    assert_erased(client, auth_server, email, user_id, sessions, cursor, "user_deleted")
    again = client.delete(path, headers=auth_server.service_headers())
    assert again.status_code == 404
    assert again.json()["code"] == "user_not_found"


def test_a_user_erases_their_own_account(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email, sessions, user_id, cursor = traced_user(client, smtp_sink, auth_server)
    token = sessions[0]["accessToken"]
    wrong = delete_account(client, token, "not my password")
    assert wrong.status_code == 400
    assert wrong.json()["code"] == "invalid_current_password"
    assert client.get("/api/auth/me", headers=bearer(token)).status_code == 200

    deleted = delete_account(client, token, PASSWORD)
    assert deleted.status_code == 200, deleted.text
    assert deleted.json()["data"] == {"deleted": True, "revokedSessions": 2}
    assert_erased(client, auth_server, email, user_id, sessions, cursor, "account_deleted")
