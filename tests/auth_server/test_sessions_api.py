"""GET /api/auth/sessions and DELETE /api/auth/sessions/{id}."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.auth_server.helpers import PASSWORD, bearer, verified_user
from tests.support.smtp import SmtpSink


def login_as(client: httpx.Client, email: str, agent: str) -> dict[str, Any]:
    response = client.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers={"User-Agent": agent},
    )
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def sessions_of(client: httpx.Client, token: str) -> list[dict[str, Any]]:
    response = client.get("/api/auth/sessions", headers=bearer(token))
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["data"]["sessions"]
    return found


def test_list_and_revoke_sessions(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = verified_user(client, smtp_sink)
    laptop = login_as(client, email, "Laptop/1.0")
    phone = login_as(client, email, "Phone/2.0")
    stale = login_as(client, email, "Old/0.1")
    client.post("/api/auth/logout", json={"refreshToken": stale["refreshToken"]})

    listed = sessions_of(client, laptop["accessToken"])
    assert {s["userAgent"] for s in listed} == {"Laptop/1.0", "Phone/2.0"}
    for session in listed:
        assert set(session) >= {"id", "createdAt", "lastUsedAt", "userAgent", "ipAddress"}
        assert session["ipAddress"] == "127.0.0.1"
        assert session["current"] is (session["userAgent"] == "Laptop/1.0")
    phone_id = next(s["id"] for s in listed if s["userAgent"] == "Phone/2.0")

    revoked = client.delete(f"/api/auth/sessions/{phone_id}", headers=bearer(laptop["accessToken"]))
    assert revoked.status_code == 200
    assert client.get("/api/auth/me", headers=bearer(phone["accessToken"])).status_code == 401
    refresh = client.post("/api/auth/refresh", json={"refreshToken": phone["refreshToken"]})
    assert refresh.status_code == 401
    assert [s["userAgent"] for s in sessions_of(client, laptop["accessToken"])] == ["Laptop/1.0"]

    again = client.delete(f"/api/auth/sessions/{phone_id}", headers=bearer(laptop["accessToken"]))
    assert again.status_code == 404 and again.json()["code"] == "session_not_found"


def test_cannot_revoke_another_users_session(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    ann = login_as(client, verified_user(client, smtp_sink), "Ann")
    bob = login_as(client, verified_user(client, smtp_sink), "Bob")
    bob_session = sessions_of(client, bob["accessToken"])[0]["id"]
    attempt = client.delete(f"/api/auth/sessions/{bob_session}", headers=bearer(ann["accessToken"]))
    # "Not found", exactly as for an id that does not exist: nothing about Bob leaks.
    assert attempt.status_code == 404 and attempt.json()["code"] == "session_not_found"
    assert client.get("/api/auth/me", headers=bearer(bob["accessToken"])).status_code == 200
    unknown = client.delete(
        f"/api/auth/sessions/{uuid.uuid4()}", headers=bearer(ann["accessToken"])
    )
    assert unknown.json() == attempt.json()


def test_sessions_api_input_and_auth(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    assert client.get("/api/auth/sessions").status_code == 401
    assert client.delete(f"/api/auth/sessions/{uuid.uuid4()}").status_code == 401
    token = login_as(client, verified_user(client, smtp_sink), "x")["accessToken"]
    bad = client.delete("/api/auth/sessions/not-a-uuid", headers=bearer(token))
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"
