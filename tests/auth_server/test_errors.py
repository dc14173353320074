"""Every failure comes in the envelope with a stable code; no input produces a 500."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.auth_process import AuthServerProcess

POST_ENDPOINTS = [
    "/api/auth/signup",
    "/api/auth/verify-email",
    "/api/auth/resend-verification",
    "/api/auth/login",
    "/api/auth/refresh",
    "/api/auth/logout",
]


def assert_envelope(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["success"] is False
    assert body["code"] == code
    assert isinstance(body["message"], str) and body["message"]


def test_unknown_path(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/auth/nowhere"), 404, "not_found")


def test_wrong_method(client: httpx.Client) -> None:
    assert_envelope(client.get("/api/auth/login"), 405, "method_not_allowed")


@pytest.mark.parametrize("path", POST_ENDPOINTS)
def test_malformed_json(client: httpx.Client, path: str) -> None:
    response = client.post(
        path, content=b'{"email": ', headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 400, "malformed_json")


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_wrong_content_type(client: httpx.Client, content_type: str) -> None:
    response = client.post(
        "/api/auth/login", content=b"email=a@b.co", headers={"Content-Type": content_type}
    )
    assert_envelope(response, 415, "unsupported_media_type")


def test_declared_oversized_body(client: httpx.Client) -> None:
    response = client.post(
        "/api/auth/login",
        content=b"{" + b" " * 70_000 + b"}",
        headers={"Content-Type": "application/json"},
    )
    assert_envelope(response, 413, "payload_too_large")


def test_streamed_oversized_body(client: httpx.Client) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"email": "'
        for _ in range(100):
            yield b"a" * 1024
        yield b'"}'

    response = client.post(
        "/api/auth/login", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_envelope(response, 413, "payload_too_large")


@pytest.mark.parametrize("path", POST_ENDPOINTS)
@pytest.mark.parametrize(
    "payload",
    [
        [],
        "a string",
        42,
        None,
        {},
        {"email": 12, "password": ["x"], "refreshToken": {"a": 1}, "code": None},
        {"email": "a@b.co\u0000", "password": "\ud800" * 3, "refreshToken": "\u0000"},
        {"email": "x" * 5000 + "@b.co", "password": "p" * 5000, "refreshToken": "r" * 5000},
    ],
)
def test_junk_never_gives_a_500(client: httpx.Client, path: str, payload: object) -> None:
    # json.dumps escapes lone surrogates, which a strict encoder would refuse to send.
    response = client.post(
        path, content=json.dumps(payload).encode(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code < 500, response.text
    body = response.json()
    # Logout is idempotent and may accept any string; everything else refuses the junk.
    assert body["success"] is (response.status_code == 200)
    assert body["success"] or body["code"]
    assert "Traceback" not in response.text


@pytest.mark.parametrize("field", ["password", "firstName", "company"])
def test_unencodable_text_is_a_client_error(client: httpx.Client, field: str) -> None:
    body = {
        "email": "surrogate@example.com",
        "password": "long-enough-password",
        "firstName": "Ann",
        "lastName": "Bee",
        "company": "Acme",
        field: "bad \ud800 text",  # a lone surrogate: valid JSON, not encodable UTF-8
    }
    raw = json.dumps(body).encode()  # ensure_ascii escapes it for the wire
    for path in ("/api/auth/signup", "/api/auth/login"):
        response = client.post(path, content=raw, headers={"Content-Type": "application/json"})
        assert 400 <= response.status_code < 500, response.text


def test_validation_errors_do_not_echo_input(client: httpx.Client) -> None:
    secret = "my-secret-password-value"
    response = client.post("/api/auth/login", json={"email": "nope", "password": secret})
    assert_envelope(response, 400, "validation_error")
    assert "email" in response.json()["errors"]
    assert secret not in response.text


def test_health(client: httpx.Client) -> None:
    body = client.get("/health").json()
    assert body == {
        "status": "healthy",
        "version": body["version"],
        "environment": "test",
        "database": "connected",
    }


@pytest.fixture
def server_without_database(tmp_path: Path) -> Iterator[AuthServerProcess]:
    """A server whose database cannot be reached (its folder does not exist)."""
    missing = tmp_path / "missing" / "auth.sqlite3"
    server = AuthServerProcess(f"sqlite:///{missing}", tmp_path)
    server.start_unhealthy()
    yield server
    server.stop()


def test_health_reports_an_unreachable_database(
    server_without_database: AuthServerProcess,
) -> None:
    response = httpx.get(f"{server_without_database.base_url}/health")
    assert response.status_code == 503
    assert response.json()["status"] == "unhealthy"
    assert response.json()["database"] == "disconnected"
    login = httpx.post(
        f"{server_without_database.base_url}/api/auth/login",
        json={"email": "a@b.co", "password": "whatever-password"},
    )
    assert_envelope(login, 500, "internal_error")
    assert "sqlite" not in login.text.lower()
