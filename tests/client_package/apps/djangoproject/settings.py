"""A third-party Django/DRF project that trusts the auth server through the installed
rozitech-auth wheel, configured in Django settings as the library's README says."""

from __future__ import annotations

import os

SECRET_KEY = "a test project's key"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1"]
ROOT_URLCONF = "djangoproject.urls"
INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "rest_framework",
    "rozitech_auth.django",
]
DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.environ["PROJECT_DB"]}}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rozitech_auth.django.authentication.RemoteJWTAuthentication"
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "EXCEPTION_HANDLER": "rozitech_auth.django.exceptions.exception_handler",
}
# Django's own user model: the auth server's user id goes in `username` (unique).
AUTH_USER_ID_FIELD = "username"
AUTH_SERVICE_URL = os.environ["AUTH_SERVICE_URL"]
AUTH_SERVICE_TOKEN = os.environ["AUTH_SERVICE_TOKEN"]
AUTH_SERVICE_TIMEOUT = float(os.environ.get("AUTH_SERVICE_TIMEOUT", "5"))
AUTH_VERIFY_MODE = os.environ.get("AUTH_VERIFY_MODE", "hybrid")
AUTH_REVOCATION_REDIS_URL = os.environ.get("AUTH_REVOCATION_REDIS_URL", "")
