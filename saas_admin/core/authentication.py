"""Thin re-export, so that settings naming `core.authentication.RemoteJWTAuthentication` keep
working: the classes are `rozitech_auth.django.authentication`'s."""

from rozitech_auth.django.authentication import *  # noqa: F403
