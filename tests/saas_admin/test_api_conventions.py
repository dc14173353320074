"""Errors in the envelope everywhere, the schema, and /health."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.saas_admin.helpers import Account, bearer
from tests.support.auth_process import REPO_ROOT, AuthServerProcess
from tests.support.ports import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/organizations", 401, "not_authenticated"),
        ("get", "/api/no-such-thing", 404, "not_found"),
        ("delete", "/api/plans", 405, "method_not_allowed"),
    ],
)
def test_errors_are_enveloped(
    api: APIClient, method: str, path: str, status: int, code: str
) -> None:
    response = getattr(api, method)(path)
    assert response.status_code == status
    assert response.json()["success"] is False
    assert response.json()["code"] == code


def test_bad_token_is_401_with_challenge(api: APIClient) -> None:
    response = api.get("/api/organizations", HTTP_AUTHORIZATION="Bearer not.a.token")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_schema_and_docs(api: APIClient, account: Account) -> None:
    schema = api.get("/api/schema/?format=json", headers=bearer(account.access_token))
    assert schema.status_code == 200
    paths = schema.json()["paths"]
    assert "/api/subscriptions/check" in paths and "/api/organizations" in paths
    assert api.get("/api/docs/").status_code == 200


NESTED = "[" * 10000
BODIES = {
    "json": ("application/json", NESTED),
    "form": ("application/x-www-form-urlencoded", "email=" + NESTED + "&password=" + NESTED),
    "multipart": (
        "multipart/form-data; boundary=xx",
        '--xx\r\nContent-Disposition: form-data; name="email"\r\n\r\n' + NESTED + "\r\n--xx--\r\n",
    ),
}


@pytest.mark.parametrize("kind", BODIES)
@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/refresh", "/api/auth/logout"])
def test_deeply_nested_bodies_are_400_in_the_envelope(api: APIClient, path: str, kind: str) -> None:
    content_type, body = BODIES[kind]
    response = api.generic("POST", path, body, content_type=content_type)
    assert response.status_code == 400
    assert response.json()["success"] is False
    # JSON: the auth server's malformed_json; forms: plain field errors.
    assert response.json()["code"] in ("malformed_json", "validation_error")


def test_deeply_nested_json_is_400_behind_authentication(api: APIClient, account: Account) -> None:
    organization = account.login_data["organization"]["id"]
    response = api.generic(
        "POST", f"/api/organizations/{organization}/subscriptions", NESTED,
        content_type="application/json", headers=bearer(account.access_token),
    )  # fmt: skip
    assert response.status_code == 400
    assert response.json()["code"] == "malformed_json"


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_bodies_over_the_upload_limit_are_413_in_the_envelope(
    api: APIClient, settings: SettingsWrapper, content_type: str
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000
    body = "email=" + "a" * 20_000
    if content_type == "application/json":
        body = '{"email": "' + "a" * 20_000 + '", "password": "x"}'
    response = api.generic("POST", "/api/auth/login", body, content_type=content_type)
    assert response.status_code == 413
    assert response.json() == {
        "success": False,
        "code": "payload_too_large",
        "message": "The request body is too large",
    }


def test_health(api: APIClient, settings: SettingsWrapper) -> None:
    healthy = api.get("/health")
    assert healthy.status_code == 200
    assert healthy.json() == {
        "status": "healthy",
        "database": "connected",
        "authServer": "healthy",
        "revocations": "off",  # the tests' mode is remote (conftest)
        "issuer": "off",  # remote: the auth server checks the issuer itself
    }
    from rozitech_auth.django.apps import reset_all

    settings.AUTH_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    reset_all()
    degraded = api.get("/health")
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["authServer"] == "unreachable"


def test_health_is_503_when_the_database_is_unreachable(auth_server: AuthServerProcess) -> None:
    """A real SaaS Admin process whose PostgreSQL does not answer."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere",
        "AUTH_SERVICE_URL": auth_server.base_url,
        "DJANGO_SETTINGS_MODULE": "config.settings.development",
    }
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port", str(port)],
        cwd=REPO_ROOT / "saas_admin",
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        response = None
        for _ in range(100):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=10)
                break
            except httpx.TransportError:
                time.sleep(0.1)
        assert response is not None
        assert response.status_code == 503
        assert response.json()["status"] == "unhealthy"
        assert response.json()["database"] == "disconnected"
    finally:
        server.terminate()
        server.wait(timeout=10)
