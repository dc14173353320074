"""Small helpers for talking to the auth server under test."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from tests.support.smtp import SmtpSink, verification_code

PASSWORD = "correct-horse-battery-staple"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def signup(client: httpx.Client, email: str, **overrides: Any) -> httpx.Response:
    body = {
        "email": email,
        "password": PASSWORD,
        "firstName": "Ann",
        "lastName": "Bee",
        "company": "Acme Ltd",
        "products": ["teamspace"],
        **overrides,
    }
    return client.post("/api/auth/signup", json=body)


def verified_user(client: httpx.Client, smtp: SmtpSink, **overrides: Any) -> str:
    """Sign up and verify with the code read from the delivered e-mail; returns the e-mail."""
    email = new_email()
    assert signup(client, email, **overrides).status_code == 201
    code = verification_code(smtp.wait_for(email))
    response = client.post("/api/auth/verify-email", json={"email": email, "code": code})
    assert response.status_code == 200, response.text
    return email


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}
