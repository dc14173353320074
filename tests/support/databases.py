"""Throw-away databases for one test run: a SQLite file, or a fresh PostgreSQL database."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from auth_server.db import normalize_database_url


def postgres_server_url() -> str | None:
    """The PostgreSQL server the suite should use, when AUTH_DATABASE_URL names one."""
    url = os.environ.get("AUTH_DATABASE_URL", "")
    return normalize_database_url(url) if url.startswith("postgres") else None


# For tests of races that SQLite cannot have (it lets one writer in at a time).
NEEDS_POSTGRES = pytest.mark.skipif(
    postgres_server_url() is None,
    reason="needs PostgreSQL (AUTH_DATABASE_URL): SQLite has one writer at a time",
)


@contextmanager
def temporary_database(workdir: Path) -> Iterator[str]:
    """A URL to an empty database that is dropped afterwards."""
    server = postgres_server_url()
    if server is None:
        yield f"sqlite:///{workdir / 'auth.sqlite3'}"
        return
    name = f"auth_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
