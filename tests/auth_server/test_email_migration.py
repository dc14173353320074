"""The migration that moves stored e-mail addresses to their NFKC form, on a real database
(SQLite, or PostgreSQL when the suite runs on it)."""

from __future__ import annotations

import uuid
from pathlib import Path

from alembic import command
from sqlalchemy import insert, select

from auth_server.db import make_engine
from auth_server.migrate import alembic_config
from auth_server.models import User
from tests.support.databases import temporary_database


def add_user(url: str, email: str) -> uuid.UUID:
    engine = make_engine(url)
    user_id = uuid.uuid4()
    with engine.begin() as connection:
        connection.execute(
            insert(User).values(
                id=user_id, email=email, password_hash="x", first_name="A", last_name="B",
                email_verified=True, is_active=True,
            )
        )  # fmt: skip
    engine.dispose()
    return user_id


def emails(url: str) -> dict[uuid.UUID, str]:
    engine = make_engine(url)
    with engine.connect() as connection:
        rows = connection.execute(select(User.__table__.c.id, User.__table__.c.email)).all()
    engine.dispose()
    return {row.id: row.email for row in rows}


def test_stored_addresses_are_normalized_unless_two_collide(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as url:
        config = alembic_config(url)
        command.upgrade(config, "0004")
        lone = add_user(url, "\uff41\uff4e\uff4e@example.com")  # full-width "ann"
        plain = add_user(url, "bob@example.com")
        twin = add_user(url, "\uff42\uff4f\uff42@example.com")  # full-width "bob"
        command.upgrade(config, "head")
        stored = emails(url)
    assert stored[lone] == "ann@example.com"
    # Two accounts would share one address: neither changes, an operator decides.
    assert stored[plain] == "bob@example.com"
    assert stored[twin] == "\uff42\uff4f\uff42@example.com"
