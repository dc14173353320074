"""Security headers of the auth server, read over HTTP from the real process."""

from __future__ import annotations

from pathlib import Path

import httpx
from cryptography.fernet import Fernet

from auth_server.keys import generate_private_key_pem
from tests.auth_server.helpers import PASSWORD, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


def assert_hardened(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]


def test_every_answer_carries_the_headers(client: httpx.Client) -> None:
    for response in (
        client.get("/health"),
        client.get("/openapi.json"),
        client.get("/api-docs"),
        client.get("/reset-password"),
        client.get("/no-such-page"),
        client.post("/api/auth/login", content=b"not json"),  # refused before any route
    ):
        assert_hardened(response)
        # Outside production there is no TLS to pin.
        assert "strict-transport-security" not in response.headers


def test_token_answers_are_never_cached(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    email = verified_user(client, smtp_sink)
    refused = client.post("/api/auth/login", json={"email": email, "password": "x" * 12})
    assert refused.status_code == 401
    logged_in = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    tokens = logged_in.json()["data"]
    refreshed = client.post("/api/auth/refresh", json={"refreshToken": tokens["refreshToken"]})
    assert refreshed.status_code == 200
    me = client.get("/api/auth/me", headers={"Authorization": f"Bearer {tokens['accessToken']}"})
    for response in (refused, logged_in, refreshed, me):
        assert response.headers["cache-control"] == "no-store"
    # Public keys stay cacheable: verifiers fetch them often.
    assert client.get("/.well-known/jwks.json").headers["cache-control"] == "public, max-age=300"


def test_api_docs_allow_this_origin_only(client: httpx.Client) -> None:
    policy = client.get("/api-docs").headers["content-security-policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"  # no inline script, no CDN
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert "http" not in policy


def test_production_pins_https(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    server = AuthServerProcess(
        f"sqlite:///{tmp_path / 'auth.sqlite3'}",
        tmp_path,
        smtp_port=smtp_sink.port,
        environment="production",
        jwt_private_key=generate_private_key_pem().decode(),
        mfa_encryption_key=Fernet.generate_key().decode(),
    ).migrate()
    server.start()
    try:
        response = httpx.get(f"{server.base_url}/health")
        # No map of the API on the public listener in production (API_DOCS unset).
        docs = [httpx.get(f"{server.base_url}{path}") for path in ("/api-docs", "/openapi.json")]
    finally:
        server.stop()
    assert_hardened(response)
    assert response.headers["strict-transport-security"] == "max-age=31536000"
    assert [answer.status_code for answer in docs] == [404, 404]
