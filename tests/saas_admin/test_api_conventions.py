"""Errors in the envelope everywhere, the schema, and /health."""

from __future__ import annotations

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from tests.saas_admin.helpers import Account, bearer
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


def test_health(api: APIClient, settings: SettingsWrapper) -> None:
    healthy = api.get("/health")
    assert healthy.status_code == 200
    assert healthy.json() == {"status": "healthy", "database": "connected", "authServer": "healthy"}
    from core.apps import reset_all

    settings.AUTH_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    reset_all()
    degraded = api.get("/health")
    assert degraded.status_code == 200
    assert degraded.json()["status"] == "degraded"
    assert degraded.json()["authServer"] == "unreachable"
