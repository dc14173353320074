from __future__ import annotations

from typing import Any

from django.apps import AppConfig
from django.conf import settings
from django.core.signals import setting_changed
from django.db.models.signals import post_delete, post_save


class RozitechAuthConfig(AppConfig):
    name = "rozitech_auth.django"
    label = "rozitech_auth"
    verbose_name = "Auth server client"

    def ready(self) -> None:
        from rozitech_auth.conf import client_settings

        # Read and validate at startup: an unknown AUTH_VERIFY_MODE stops the service here,
        # not on the first request.
        client_settings()
        setting_changed.connect(_reset_on_setting_change, dispatch_uid="rozitech_auth.reset")
        # A local user saved or deleted here: the next token reads the row again.
        for signal in (post_save, post_delete):
            signal.connect(
                _user_saved, sender=settings.AUTH_USER_MODEL, dispatch_uid="rozitech_auth.user"
            )


def _reset_on_setting_change(*, setting: str, **_kwargs: Any) -> None:
    if setting.startswith("AUTH_") or setting == "CACHES":
        reset_all()


def _user_saved(*, instance: Any, **_kwargs: Any) -> None:
    from rozitech_auth.conf import client_settings
    from rozitech_auth.django.authentication import user_saved

    user_saved(getattr(instance, client_settings().user_id_field, None))


def reset_all() -> None:
    """Forget settings, the shared client (pool, breaker) and the verification caches."""
    from rozitech_auth import conf
    from rozitech_auth.client import reset_auth_client
    from rozitech_auth.django import authentication

    conf.reset()
    reset_auth_client()
    authentication.reset_state()
