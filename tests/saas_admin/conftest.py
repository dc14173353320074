"""Django-side fixtures: settings pointing at the real auth server, API clients, accounts."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from core.apps import reset_all
from tests.saas_admin.helpers import Account, new_account
from tests.support.auth_process import AuthServerProcess
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
def account(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> Account:
    return new_account(auth_server, smtp_sink)


@pytest.fixture
def other_account(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> Account:
    return new_account(auth_server, smtp_sink, firstName="Bob", lastName="Cee")
