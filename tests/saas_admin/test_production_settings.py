"""The SaaS Admin's production settings refuse to start without their secrets, as the auth
server does (a development fallback would fail later, one request at a time)."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.support.saas_process import SAAS_ROOT

PRODUCTION = {
    "ENVIRONMENT": "production",
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "production-settings-test-" + "k" * 40,
}


def check(**settings: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **PRODUCTION, **settings}
    for name in ("AUTH_SERVICE_TOKEN", "SERVICE_TOKEN", "AUTH_SERVICE_TOKEN_FILE"):
        if name not in settings:
            env.pop(name, None)
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=SAAS_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_production_refuses_to_start_without_the_service_token() -> None:
    refused = check()
    assert refused.returncode != 0
    assert "ENVIRONMENT=production requires AUTH_SERVICE_TOKEN" in refused.stderr
    assert check(AUTH_SERVICE_TOKEN="t" * 40).returncode == 0
