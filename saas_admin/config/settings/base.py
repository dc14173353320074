"""Settings of the SaaS Admin, read once from the environment (see .env.example)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import dj_database_url
import django_stubs_ext
from dotenv import load_dotenv
from rozitech_auth.conf import from_environment
from rozitech_auth.end_user import parse_networks

from config.logs import logging_settings

# Generic admin and DRF classes (ModelAdmin[Model]) work at run time as in the stubs.
django_stubs_ext.monkeypatch()

BASE_DIR = Path(__file__).resolve().parents[2]
REPO_ROOT = BASE_DIR.parent
# The same .env as the auth server's (see .env.example); real environment variables win.
load_dotenv(REPO_ROOT / ".env", override=False)


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    return (
        default if value is None or value == "" else value.strip().lower() in {"1", "true", "yes"}
    )


def env_list(name: str, default: str) -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


ENVIRONMENT = os.environ.get("ENVIRONMENT", "development")
DEBUG = env_bool("DJANGO_DEBUG", ENVIRONMENT == "development")
_secret = os.environ.get("DJANGO_SECRET_KEY", "")
if not _secret:
    # A secret with a default would sign sessions/CSRF tokens anyone can forge.
    if ENVIRONMENT == "production":
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("ENVIRONMENT=production requires DJANGO_SECRET_KEY")
    _secret = "insecure-development-only-secret-key-do-not-use-in-production"  # noqa: S105
SECRET_KEY = _secret
ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
# Origins (scheme://host[:port]) whose form posts the admin site accepts besides its own
# Host; needed when the public address differs from the one the proxy passes on.
CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS", "")
# Swagger UI (/api/docs/) and the schema (/api/schema/): off by default in production, where
# the public listener should not map the API for everyone (API_DOCS=true turns them on).
API_DOCS = env_bool("API_DOCS", ENVIRONMENT != "production")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    # Swagger UI's files, served from this origin (SWAGGER_UI_DIST below): no CDN.
    "drf_spectacular_sidecar",
    "rozitech_auth.django",
    # Request count and latency per view and status (GET /metrics, config/metrics.py).
    "django_prometheus",
    "accounts",
    "organizations",
    "billing",
]

# Admin-site login asks the auth server; no password is stored or checked here.
AUTHENTICATION_BACKENDS = ["accounts.backends.AuthServerBackend"]
# License outbox: the longest wait between two delivery attempts of one update.
OUTBOX_MAX_BACKOFF = int(os.environ.get("OUTBOX_MAX_BACKOFF", "300"))

MIDDLEWARE = [
    # First: the request's X-Request-ID is current for every later line and auth-server call.
    "rozitech_auth.django.middleware.RequestIdMiddleware",
    "django_prometheus.middleware.PrometheusBeforeMiddleware",
    # One log line per request (config/request_log.py).
    "config.request_log.RequestLog",
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin site, API docs) from the service itself, so that every page works
    # without nginx in front and without internet.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Admin-site sessions: re-checked against the auth server on every request.
    "accounts.middleware.AuthServerSessionMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_prometheus.middleware.PrometheusAfterMiddleware",
]

# Log lines as JSON objects (production default) or readable text; every line carries the
# request's id (config/logs.py).
LOG_FORMAT = os.environ.get("LOG_FORMAT") or ("json" if ENVIRONMENT == "production" else "console")
# The least severe line written: debug, info (default), warning, error.
LOGGING = logging_settings(LOG_FORMAT, os.environ.get("LOG_LEVEL") or "info")
# Who may scrape GET /metrics (IPs or CIDRs); anyone else gets 404.
METRICS_NETWORKS = parse_networks(os.environ.get("METRICS_ALLOWED_NETWORKS") or "127.0.0.0/8,::1")

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES: list[dict[str, Any]] = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

# DATABASE_URL: postgresql://... in production; SQLite in DATA_DIR by default.
DATA_DIR = Path(os.environ.get("DATA_DIR") or REPO_ROOT / "data")
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if not DATABASE_URL:
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    DATABASE_URL = f"sqlite:///{DATA_DIR / 'saas_admin.sqlite3'}"
DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Transactions that read, then write (the organization mirror, the local user) take the
    # write lock at BEGIN: with SQLite's default (deferred) a second concurrent one fails at
    # once with "database is locked" instead of waiting for the first.
    DATABASES["default"].setdefault("OPTIONS", {})["transaction_mode"] = "IMMEDIATE"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# The local user mirrors the auth server's user, found by its id (never by e-mail).
AUTH_USER_MODEL = "accounts.User"
# Owners and admins of this auth-server organization are staff and superusers. By id, never
# by slug (sign-ups choose slugs): the id `python -m auth_server create-admin` prints, or,
# unset, the file it writes (DATA_DIR/staff-organization). Neither: nobody is staff.
SAAS_ADMIN_STAFF_ORGANIZATION_ID = os.environ.get("SAAS_ADMIN_STAFF_ORGANIZATION_ID", "")
SAAS_ADMIN_STAFF_ORGANIZATION_FILE = os.environ.get("SAAS_ADMIN_STAFF_ORGANIZATION_FILE") or str(
    DATA_DIR / "staff-organization"
)
# The admin site (and staff rights through the API) only for a token whose `amr` names a
# second factor (otp, hwk, swk); staff signed in with a password alone are asked to step up
# (accounts.signin). On by default in production, off in development and tests.
ADMIN_REQUIRE_MFA = env_bool("ADMIN_REQUIRE_MFA", ENVIRONMENT == "production")

# "Sign in with Rozitech" (accounts.signin): the SaaS Admin as an OpenID Connect client of the
# auth server. `make run` registers it and passes both; no client id: no button.
SAAS_ADMIN_OIDC_CLIENT_ID = os.environ.get("SAAS_ADMIN_OIDC_CLIENT_ID", "")
SAAS_ADMIN_OIDC_CLIENT_SECRET = os.environ.get("SAAS_ADMIN_OIDC_CLIENT_SECRET", "")
# Registered with the client and matched exactly by the auth server. Unset: /admin/sso/callback/
# and /admin/login/ at the address the browser used (make run registers localhost and
# 127.0.0.1); set them behind a proxy, where the public address is not the one Django sees.
SAAS_ADMIN_OIDC_REDIRECT_URI = os.environ.get("SAAS_ADMIN_OIDC_REDIRECT_URI", "")
SAAS_ADMIN_OIDC_POST_LOGOUT_REDIRECT_URI = os.environ.get(
    "SAAS_ADMIN_OIDC_POST_LOGOUT_REDIRECT_URI", ""
)

# Cache: Redis (shared by every replica) when REDIS_URL is set, process memory otherwise.
REDIS_URL = os.environ.get("REDIS_URL", "")
# Seconds any Redis call may take (this cache; the library's channel reads it too), as the
# auth server's setting. REDIS_PREFIX (the revocation channel's namespace) is the library's.
REDIS_SOCKET_TIMEOUT = float(os.environ.get("REDIS_SOCKET_TIMEOUT") or "0.25")
if REDIS_URL:
    CACHES: dict[str, Any] = {
        "default": {
            "BACKEND": "django_redis.cache.RedisCache",
            "LOCATION": REDIS_URL,
            "KEY_PREFIX": os.environ.get("CACHE_KEY_PREFIX", "saas_admin"),
            "OPTIONS": {
                # A Redis outage degrades to cache misses instead of failing every request.
                "IGNORE_EXCEPTIONS": True,
                # A hung Redis costs each request one short timeout, then a cache miss.
                "SOCKET_CONNECT_TIMEOUT": REDIS_SOCKET_TIMEOUT,
                "SOCKET_TIMEOUT": REDIS_SOCKET_TIMEOUT,
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Served from the installed apps' folders, no collectstatic needed (make run, tests);
# production serves collectstatic's STATIC_ROOT instead (production.py).
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK: dict[str, Any] = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "core.authentication.RemoteJWTAuthentication",
        # Django sessions: the Django admin's staff users, logged in locally.
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PAGINATION_CLASS": "config.api.Pagination",
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.OrderingFilter",
        "rest_framework.filters.SearchFilter",
    ],
    "EXCEPTION_HANDLER": "config.api.envelope_exception_handler",
    # JSON nested past the recursion limit is a 400, not a 500 (config.api.JSONParser).
    "DEFAULT_PARSER_CLASSES": [
        "config.api.JSONParser",
        "rest_framework.parsers.FormParser",
        "rest_framework.parsers.MultiPartParser",
    ],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "ORDERING_PARAM": "ordering",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Rozitech SaaS Admin API",
    "DESCRIPTION": "Organizations, plans and subscriptions, behind the Rozitech auth server.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The docs page is public; the schema lists every endpoint, none of them reveal data.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    # Swagger UI from the drf-spectacular-sidecar package on this origin, never a CDN: it
    # holds bearer tokens ("Authorize"), so no third-party script may run beside it.
    "SWAGGER_UI_DIST": "SIDECAR",
    # Swagger UI would send the schema to a third-party validator.
    "SWAGGER_UI_SETTINGS": {"deepLinking": True, "validatorUrl": None},
}

# --- The client library (rozitech_auth): every setting documented in .env.example --------
# Its defaults live in rozitech_auth.conf.DEFAULTS; here only what the environment sets and
# the SaaS Admin's own choices. AUTH_REVOCATION_REDIS_URL unset or empty: REDIS_URL;
# "none": the revocation feed alone.
globals().update(from_environment())
# Reverse proxies whose X-Forwarded-For names the end user forwarded to the auth server
# (the same variable as the auth server's; AUTH_TRUSTED_PROXIES for this service alone).
AUTH_TRUSTED_PROXIES = os.environ.get("AUTH_TRUSTED_PROXIES") or os.environ.get(
    "TRUSTED_PROXIES", ""
)
# The auth server's SERVICE_TOKEN (revocation feed, license API). Unset: read from
# AUTH_SERVICE_TOKEN_FILE, by default the file the development auth server writes.
AUTH_SERVICE_TOKEN = os.environ.get("AUTH_SERVICE_TOKEN") or os.environ.get("SERVICE_TOKEN", "")
AUTH_SERVICE_TOKEN_FILE = os.environ.get("AUTH_SERVICE_TOKEN_FILE") or str(
    DATA_DIR / "service-token"
)
