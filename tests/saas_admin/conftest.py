"""Django-side fixtures: settings pointing at the real auth server, API clients, accounts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient
from rozitech_auth.client import AuthServerClient
from rozitech_auth.django.apps import reset_all

from tests.auth_server.helpers import login
from tests.saas_admin.helpers import Account, new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import REDIS_URL, needs_redis
from tests.support.smtp import SmtpSink


@pytest.fixture(autouse=True)
def auth_settings(settings: SettingsWrapper, auth_server: AuthServerProcess) -> Iterator[None]:
    """Every test talks to the session's real auth server, with fresh client state."""
    settings.AUTH_SERVICE_URL = auth_server.base_url
    settings.AUTH_JWT_ISSUER = auth_server.base_url
    settings.AUTH_VERIFY_MODE = "remote"
    settings.ROOT_URLCONF = "tests.saas_admin.urls"
    reset_all()
    yield
    reset_all()


@pytest.fixture
def api() -> APIClient:
    return APIClient()


@pytest.fixture
def me_calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """A spy on the auth server calls of remote verification (each call still goes out)."""
    calls: list[str] = []
    real = AuthServerClient.verify_token

    def counting(self: AuthServerClient, access_token: str) -> dict[str, Any]:
        calls.append(access_token)
        return real(self, access_token)

    monkeypatch.setattr(AuthServerClient, "verify_token", counting)
    return calls


@pytest.fixture(scope="session")
def personas(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> dict[str, Account]:
    """Two users signed up and verified once per session: the auth server rate-limits
    sign-ups and verifications per client IP, and every test here comes from 127.0.0.1."""
    return {
        "ann": new_account(auth_server, smtp_sink),
        "bob": new_account(auth_server, smtp_sink, firstName="Bob", lastName="Cee"),
    }


def fresh_login(server: AuthServerProcess, persona: Account) -> Account:
    """A new login (its own session and tokens) of a persona."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        data = login(http, persona.email)
    return Account(persona.email, persona.user_id, data["accessToken"], data["refreshToken"], data)


@pytest.fixture
def account(auth_server: AuthServerProcess, personas: dict[str, Account]) -> Account:
    """Ann, freshly logged in: a test may log this session out without harming others."""
    return fresh_login(auth_server, personas["ann"])


@pytest.fixture
def other_account(auth_server: AuthServerProcess, personas: dict[str, Account]) -> Account:
    return fresh_login(auth_server, personas["bob"])


@pytest.fixture
def project_urls(settings: SettingsWrapper) -> None:
    """The SaaS Admin's own URLconf, for tests of its API and admin site."""
    settings.ROOT_URLCONF = "config.urls"


@pytest.fixture(
    params=["polling", pytest.param("redis", marks=needs_redis("the channel is Redis pub/sub"))]
)
def hybrid_feed(
    request: pytest.FixtureRequest, settings: SettingsWrapper, auth_server: AuthServerProcess
) -> str:
    """Hybrid mode over the real auth server's feed: polled every 0.2 s, or its Redis
    channel with slow polls (no safety read before a wait's hang guard: what a test sees
    after an event can only have come through the channel)."""
    settings.AUTH_VERIFY_MODE = "hybrid"
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    settings.AUTH_REVOCATION_CHANNEL = auth_server.revocation_channel
    if request.param == "redis":
        settings.AUTH_REVOCATION_REDIS_URL = REDIS_URL
        settings.AUTH_REVOCATION_POLL_INTERVAL = 600
        settings.AUTH_REVOCATION_MAX_STALENESS = 1800
    else:
        settings.AUTH_REVOCATION_REDIS_URL = "none"
        settings.AUTH_REVOCATION_WAIT = 0
        settings.AUTH_REVOCATION_POLL_INTERVAL = 0.2
    return str(request.param)
