"""The seed's import names stay importable in the SaaS Admin as thin re-exports of the
rozitech-auth distribution, so settings and code that name them keep working."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from pytest_django.fixtures import Settings
from rest_framework.settings import api_settings
from rozitech_auth import errors
from rozitech_auth.client import get_auth_client
from rozitech_auth.conf import client_settings
from rozitech_auth.django import authentication


def test_core_names_are_the_librarys() -> None:
    from core import auth_client as seed_client
    from core import authentication as seed_authentication

    assert seed_authentication.RemoteJWTAuthentication is authentication.RemoteJWTAuthentication
    assert seed_authentication.OptionalRemoteJWTAuthentication is (
        authentication.OptionalRemoteJWTAuthentication
    )
    assert seed_authentication.AuthToken is authentication.AuthToken
    assert seed_client.get_auth_client is get_auth_client
    assert seed_client.AuthServiceUnavailable is errors.AuthServerUnavailable
    assert seed_client.AuthServerError is errors.AuthServerError


def test_the_settings_name_the_seed_class() -> None:
    # config/settings/base.py still says "core.authentication.RemoteJWTAuthentication".
    classes: list[Any] = list(api_settings.DEFAULT_AUTHENTICATION_CLASSES)
    assert authentication.RemoteJWTAuthentication in classes


def test_a_registered_mode_may_be_named_in_the_settings(settings: Settings) -> None:
    from rozitech_auth.verification import VERIFIERS, register_verifier

    register_verifier("also-remote", VERIFIERS["remote"])
    try:
        settings.AUTH_VERIFY_MODE = "also-remote"
        assert client_settings().verify_mode == "also-remote"
    finally:
        del VERIFIERS["also-remote"]
    settings.AUTH_VERIFY_MODE = "also-remote"
    with pytest.raises(ImproperlyConfigured, match="is not a verification mode"):
        client_settings()
