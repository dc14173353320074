"""Settings for the test suite: the base settings, made fast and isolated."""

from __future__ import annotations

import os
import uuid

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, DATABASES, REDIS_URL

DEBUG = False
# No staff organization unless a test names one (never a stray DATA_DIR file's).
SAAS_ADMIN_STAFF_ORGANIZATION_FILE = ""
# Tests hash no real passwords: the local users have unusable ones anyway.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if not os.environ.get("DATABASE_URL"):
    DATABASES["default"] = {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}
else:
    # A name of our own, so two test runs on one PostgreSQL server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_saas_admin_{os.getpid()}"}

if REDIS_URL:
    # A prefix of our own, so that runs sharing one Redis never see each other's keys.
    CACHES["default"]["KEY_PREFIX"] = f"saas-test-{uuid.uuid4().hex[:8]}"
