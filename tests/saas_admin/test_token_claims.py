"""What a token must carry, the issuer it must name, and how far its `iat` may be ahead:
the client verifies exactly what the auth server does (real auth server processes)."""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from django.test import RequestFactory
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth import tokens as client_tokens
from rozitech_auth.django.apps import reset_all

from auth_server import tokens as server_tokens
from config.health import health as health_view
from tests.auth_server.helpers import login
from tests.saas_admin.helpers import Account, bearer, now, remint
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database

pytestmark = pytest.mark.django_db


def test_the_client_requires_the_claims_the_server_requires() -> None:
    # The contract: a token the auth server would refuse is refused here too, and hybrid
    # revocation can rely on `sid` and `jti` being there.
    assert sorted(client_tokens.REQUIRED_CLAIMS) == sorted(server_tokens.REQUIRED_CLAIMS)


@pytest.fixture(params=["local", "hybrid", "remote"])
def mode(request: pytest.FixtureRequest, settings: Settings, auth_server: AuthServerProcess) -> str:
    settings.AUTH_VERIFY_MODE = request.param
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_CHANNEL = auth_server.revocation_channel
    return str(request.param)


MALFORMED: dict[str, dict[str, Any]] = {
    "exp as a string": {"exp": str(now() + 600)},
    "iat as a string": {"iat": str(now())},
    "exp as a boolean": {"exp": True},
    "sub as a number": {"sub": 12345},
    "sid as a number": {"sid": 12345},
    "no sid": {"sid": None},
    "no jti": {"jti": None},
    "no iat": {"iat": None},
}


@pytest.mark.parametrize("changes", MALFORMED.values(), ids=MALFORMED.keys())
def test_claims_of_the_wrong_type_or_missing_get_401_never_500(
    api: APIClient, account: Account, auth_server: AuthServerProcess, mode: str,
    changes: dict[str, Any],
) -> None:  # fmt: skip
    # Signed with the server's own key: only the claims are wrong.
    token = remint(auth_server, account.access_token, **changes)
    response = api.get("/protected", headers=bearer(token))
    assert response.status_code == 401, response.content
    assert response.json()["code"] in ("invalid_token", "token_expired")


# -- iat: its own small allowance for replica clocks ---------------------------------------


@pytest.mark.parametrize("verify_mode", ["local", "hybrid"])
def test_a_fresh_token_from_a_replica_3s_ahead_is_accepted(
    api: APIClient, settings: Settings, auth_server: AuthServerProcess, account: Account,
    verify_mode: str,
) -> None:  # fmt: skip
    settings.AUTH_VERIFY_MODE = verify_mode
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_CHANNEL = auth_server.revocation_channel
    # What a replica whose clock is 3 s ahead issues (the server's key, a live session).
    ahead = remint(auth_server, account.access_token, iat=now() + 3)
    assert api.get("/protected", headers=bearer(ahead)).status_code == 200


def test_iat_far_ahead_is_refused_and_the_allowance_is_a_setting(
    api: APIClient, settings: Settings, account: Account, auth_server: AuthServerProcess
) -> None:
    settings.AUTH_VERIFY_MODE = "local"
    ahead = remint(auth_server, account.access_token, iat=now() + 60)
    assert api.get("/protected", headers=bearer(ahead)).status_code == 401
    settings.AUTH_JWT_IAT_SKEW = 120
    reset_all()
    assert api.get("/protected", headers=bearer(ahead)).status_code == 200


def test_remote_mode_does_not_cache_a_refusal_of_a_token_from_the_future(
    api: APIClient, account: Account, auth_server: AuthServerProcess, me_calls: list[str]
) -> None:
    # Far enough ahead that any auth server refuses it: its refusal may be a replica's clock
    # behind the issuer's, so the next request asks again rather than replaying the 401.
    ahead = remint(auth_server, account.access_token, iat=now() + 3600)
    for _ in range(2):
        assert api.get("/protected", headers=bearer(ahead)).status_code == 401
    assert len(me_calls) == 2


# -- the issuer: learned from discovery, a mismatch said out loud --------------------------


@pytest.fixture(scope="module")
def public_url_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuthServerProcess]:
    """The production layout: reached at http://127.0.0.1:PORT, signing with its public URL."""
    workdir: Path = tmp_path_factory.mktemp("public-url")
    with temporary_database(workdir) as url:
        server = AuthServerProcess(
            url, workdir, auth_public_url="https://auth.example.com", admin_password=PASSWORD
        )
        server.migrate()
        server.create_admin()
        server.start()
        yield server
        server.stop()


PASSWORD = secrets.token_urlsafe(18)


def admin_token(server: AuthServerProcess) -> str:
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        return str(login(http, "admin@rozitech.com", PASSWORD)["accessToken"])


@pytest.fixture
def behind_internal_url(settings: Settings, public_url_server: AuthServerProcess) -> str:
    settings.AUTH_SERVICE_URL = public_url_server.base_url
    settings.AUTH_SERVICE_TOKEN = public_url_server.service_token
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_CHANNEL = public_url_server.revocation_channel
    reset_all()
    return admin_token(public_url_server)


@pytest.mark.parametrize("verify_mode", ["local", "hybrid"])
def test_issuer_unset_is_learned_from_discovery(
    api: APIClient, settings: Settings, behind_internal_url: str, verify_mode: str
) -> None:
    settings.AUTH_VERIFY_MODE = verify_mode
    settings.AUTH_JWT_ISSUER = ""
    reset_all()
    assert client_tokens.unverified_claims(behind_internal_url)["iss"] == "https://auth.example.com"
    assert api.get("/protected", headers=bearer(behind_internal_url)).status_code == 200


def test_a_configured_issuer_that_disagrees_is_logged_and_shown_in_health(
    api: APIClient, settings: Settings, behind_internal_url: str,
    public_url_server: AuthServerProcess, caplog: pytest.LogCaptureFixture,
) -> None:  # fmt: skip
    settings.AUTH_VERIFY_MODE = "local"
    settings.AUTH_JWT_ISSUER = public_url_server.base_url  # the internal URL: a classic slip
    reset_all()
    with caplog.at_level(logging.ERROR, logger="rozitech_auth.discovery"):
        assert api.get("/protected", headers=bearer(behind_internal_url)).status_code == 401
    errors = [r.getMessage() for r in caplog.records if r.name == "rozitech_auth.discovery"]
    assert len(errors) == 1
    assert public_url_server.base_url in errors[0] and "https://auth.example.com" in errors[0]

    body = health_body()
    assert body["status"] == "degraded"
    assert body["issuer"] == "mismatch"
    assert "https://auth.example.com" in body["issuerError"]

    settings.AUTH_JWT_ISSUER = "https://auth.example.com"
    reset_all()
    assert api.get("/protected", headers=bearer(behind_internal_url)).status_code == 200
    assert health_body()["issuer"] == "ok"


def health_body() -> dict[str, Any]:
    response = health_view(RequestFactory().get("/health"))
    body: dict[str, Any] = json.loads(response.content)
    return body
