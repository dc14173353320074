"""Migration 0006 (organizations) on a real database with revocation events in it: the
rebuilt events table never reuses an id, and the migration goes down and up again."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from pathlib import Path

from alembic import command
from sqlalchemy import text

from auth_server.db import make_engine
from auth_server.migrate import alembic_config
from tests.support.databases import temporary_database

INSERT = text(
    "INSERT INTO revocation_events (kind, user_id, reason, created_at, expires_at) "
    "VALUES ('user', :user, 'logout_all', :now, :now)"
)


def add_events(url: str, count: int) -> list[int]:
    engine = make_engine(url)
    now = datetime.now(UTC).replace(tzinfo=None)
    with engine.begin() as connection:
        for _ in range(count):
            connection.execute(INSERT, {"user": uuid.uuid4().hex, "now": now})
        ids = [row[0] for row in connection.execute(text("SELECT id FROM revocation_events"))]
    engine.dispose()
    return sorted(ids)


def test_event_ids_are_never_reused_across_the_rebuild(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as url:
        config = alembic_config(url)
        command.upgrade(config, "0005")
        ids = add_events(url, 3)
        engine = make_engine(url)
        with engine.begin() as connection:
            # `purge` may delete the newest events: their ids must stay used.
            connection.execute(
                text("DELETE FROM revocation_events WHERE id = :id"), {"id": ids[-1]}
            )
        engine.dispose()
        command.upgrade(config, "head")
        after = add_events(url, 1)
        command.downgrade(config, "0005")
        command.upgrade(config, "head")
    assert after[-1] > ids[-1]
