"""Production: the base settings, hardened. Requires DJANGO_SECRET_KEY (base checks it)."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from config.settings.base import *  # noqa: F403
from config.settings.base import AUTH_SERVICE_TOKEN, BASE_DIR, env_bool

# Without the credential the revocation feed and the license API refuse every call: hybrid
# verification would never be live and licenses never delivered. Refuse to start instead,
# as the auth server does for its own secrets (a token file set explicitly also counts).
if not AUTH_SERVICE_TOKEN and not os.environ.get("AUTH_SERVICE_TOKEN_FILE"):
    raise ImproperlyConfigured("ENVIRONMENT=production requires AUTH_SERVICE_TOKEN")

DEBUG = False
# Behind a TLS-terminating load balancer (see deploy/): trust its scheme header only.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
# A load balancer probes each replica directly over plain HTTP: /health answers it, never a
# 301 to a URL the probe cannot follow.
SECURE_REDIRECT_EXEMPT = [r"^health$"]
# Session and CSRF cookies never travel over plain HTTP.
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SECURE_HSTS_SECONDS = int(os.environ.get("DJANGO_HSTS_SECONDS", "31536000"))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("DJANGO_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_CONTENT_TYPE_NOSNIFF = True
# HSTS for subdomains and the browser preload list are the domain owner's decisions.
SILENCED_SYSTEM_CHECKS = ["security.W005", "security.W021"]
# Absolute, so that collectstatic (run from anywhere) and the server agree on it.
STATIC_ROOT = os.environ.get("DJANGO_STATIC_ROOT") or str(BASE_DIR / "staticfiles")
# The release step's collectstatic output (Procfile), not the apps' folders.
WHITENOISE_USE_FINDERS = False
