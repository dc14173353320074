from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.core.signals import setting_changed


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Auth server client"

    def ready(self) -> None:
        from core.conf import client_settings

        # Read and validate at startup: an unknown AUTH_VERIFY_MODE stops the service here,
        # not on the first request.
        client_settings()
        setting_changed.connect(_reset_on_setting_change, dispatch_uid="core.auth.reset")


def _reset_on_setting_change(*, setting: str, **_kwargs: Any) -> None:
    if setting.startswith("AUTH_") or setting == "CACHES":
        reset_all()


def reset_all() -> None:
    """Forget settings, the shared client (pool, breaker) and the verification caches."""
    from core import authentication, conf
    from core.auth_client import reset_auth_client

    conf.reset()
    reset_auth_client()
    authentication.reset_state()
