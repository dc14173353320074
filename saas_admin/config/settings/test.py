"""Settings for the test suite: the base settings, made fast and isolated."""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

from config.settings.base import *  # noqa: F403
from config.settings.base import CACHES, DATABASES, REDIS_URL

DEBUG = False
# No staff organization unless a test names one (never a stray DATA_DIR file's).
SAAS_ADMIN_STAFF_ORGANIZATION_FILE = ""
# Tests hash no real passwords: the local users have unusable ones anyway.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

if not os.environ.get("DATABASE_URL"):
    # A file, not Django's in-memory test database: that one is SQLite's shared cache, where a
    # request reading a table while the revocation feed's thread writes it fails at once
    # ("database table is locked"). A file in WAL mode lets readers run while one writer
    # writes, and the busy timeout (seconds; a hang guard far above any transaction here) makes
    # a second writer wait (base's IMMEDIATE transactions take the write lock at BEGIN). One
    # file per test process; pytest-django creates it fresh and deletes it at the end.
    DATABASES["default"]["TEST"] = {
        "NAME": str(Path(tempfile.gettempdir()) / f"saas-admin-test-{os.getpid()}.sqlite3")
    }
    DATABASES["default"]["OPTIONS"].update(init_command="PRAGMA journal_mode=WAL;", timeout=30)
else:
    # A name of our own, so two test runs on one PostgreSQL server never collide.
    DATABASES["default"]["TEST"] = {"NAME": f"test_saas_admin_{os.getpid()}"}

if REDIS_URL:
    # A prefix of our own, so that runs sharing one Redis never see each other's keys.
    CACHES["default"]["KEY_PREFIX"] = f"saas-test-{uuid.uuid4().hex[:8]}"
