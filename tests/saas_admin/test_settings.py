"""Settings are read and checked at startup: an unknown verification mode stops the service."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings
from rozitech_auth.conf import DEFAULTS, client_settings

from tests.support.auth_process import REPO_ROOT


def manage_check(**env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO_ROOT / "saas_admin",
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings.base", **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize(
    ("setting", "value", "message"),
    [
        ("AUTH_VERIFY_MODE", "remtoe", "is not a verification mode"),
        ("AUTH_REVOCATION_POLL_INTERVAL", "0", "AUTH_REVOCATION_POLL_INTERVAL"),
        ("AUTH_REVOCATION_REDIS_URL", "localhost:6379", "AUTH_REVOCATION_REDIS_URL"),
        ("AUTH_JWT_IAT_SKEW", "-1", "AUTH_JWT_IAT_SKEW"),
        ("AUTH_TRUSTED_PROXIES", "10.0.0.0/8,not-an-address", "TRUSTED_PROXIES"),
        ("AUTH_REVOCATION_WAIT", "31", "AUTH_REVOCATION_WAIT"),
        ("AUTH_REVOCATION_WAIT", "-1", "AUTH_REVOCATION_WAIT"),
    ],
)
def test_the_service_refuses_to_start_with_bad_settings(
    setting: str, value: str, message: str
) -> None:
    result = manage_check(**{setting: value})
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr and message in result.stderr


def test_the_default_settings_start() -> None:
    result = manage_check()
    assert result.returncode == 0, result.stderr


def test_the_iat_allowance_is_its_own_setting_with_a_small_default(settings: Settings) -> None:
    del settings.AUTH_JWT_IAT_SKEW
    assert client_settings().jwt_iat_skew == 5
    assert client_settings().jwt_leeway == 0


def test_hybrid_is_the_default_mode(settings: Settings) -> None:
    del settings.AUTH_VERIFY_MODE
    assert client_settings().verify_mode == "hybrid"


def test_bad_settings_are_named(settings: Settings) -> None:
    settings.AUTH_CIRCUIT_BREAKER_THRESHOLD = 0
    with pytest.raises(ImproperlyConfigured, match="AUTH_CIRCUIT_BREAKER_THRESHOLD"):
        client_settings()
    settings.AUTH_CIRCUIT_BREAKER_THRESHOLD = 5
    settings.AUTH_SERVICE_URL = "localhost:4000"
    with pytest.raises(ImproperlyConfigured, match="AUTH_SERVICE_URL"):
        client_settings()


def test_an_empty_revocation_redis_url_is_the_services_redis(settings: Settings) -> None:
    """`AUTH_REVOCATION_REDIS_URL=` (the empty line of .env.example) means REDIS_URL, as
    documented; the library once read it as "no channel" while the settings file did not."""
    settings.REDIS_URL = "redis://127.0.0.1:6379/5"
    settings.AUTH_REVOCATION_REDIS_URL = ""
    assert client_settings().revocation_redis_url == "redis://127.0.0.1:6379/5"
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    assert client_settings().revocation_redis_url == ""


def test_the_settings_file_carries_no_defaults_of_the_library() -> None:
    from config.settings import base

    unset = [name for name in DEFAULTS if name not in os.environ]
    # The SaaS Admin's own choices; REDIS_SOCKET_TIMEOUT also bounds its cache's calls.
    own = {
        "AUTH_TRUSTED_PROXIES",
        "AUTH_SERVICE_TOKEN",
        "AUTH_SERVICE_TOKEN_FILE",
        "REDIS_SOCKET_TIMEOUT",
    }
    assert [name for name in unset if hasattr(base, name) and name not in own] == []
