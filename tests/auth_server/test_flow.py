"""The whole journey of a new user against the real server, database and SMTP."""

from __future__ import annotations

import httpx

from tests.auth_server.helpers import PASSWORD, bearer, new_email, signup
from tests.support.smtp import SmtpSink, verification_code


def test_signup_verify_login_me_refresh_logout(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = new_email()
    created = signup(client, email, products=["teamspace", "insurance"])
    assert created.status_code == 201
    data = created.json()["data"]
    assert data["email"] == email and data["emailVerified"] is False

    blocked = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert blocked.status_code == 403
    assert blocked.json()["code"] == "email_not_verified"

    code = verification_code(smtp_sink.wait_for(email))
    verified = client.post("/api/auth/verify-email", json={"email": email, "code": code})
    assert verified.json() == {"success": True, "data": {"email": email, "emailVerified": True}}

    login = client.post("/api/auth/login", json={"email": email.upper(), "password": PASSWORD})
    assert login.status_code == 200
    session = login.json()["data"]
    assert session["tokenType"] == "Bearer" and session["expiresIn"] == 900
    assert session["organization"]["role"] == "owner"
    assert session["organization"]["id"] == data["organizationId"]
    assert set(session["licenses"]) == {"teamspace", "insurance"}
    assert session["licenses"]["teamspace"]["status"] == "trial"

    me = client.get("/api/auth/me", headers=bearer(session["accessToken"]))
    assert me.status_code == 200
    assert me.json()["data"]["user"]["email"] == email

    refreshed = client.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})
    assert refreshed.status_code == 200
    tokens = refreshed.json()["data"]
    assert tokens["refreshToken"] != session["refreshToken"]

    out = client.post("/api/auth/logout", json={"refreshToken": tokens["refreshToken"]})
    assert out.status_code == 200
    for token in (session["accessToken"], tokens["accessToken"]):
        rejected = client.get("/api/auth/me", headers=bearer(token))
        assert rejected.status_code == 401
        assert rejected.json()["code"] == "invalid_token"
    again = client.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert again.status_code == 401
