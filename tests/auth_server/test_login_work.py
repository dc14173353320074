"""A wrong password costs the same work for a known and an unknown address: the same SQL
statements, in the same order (and one argon2 verification each, see passwords.py).

Counted in process (the real app over httpx's ASGI transport and a real SQLite database),
because the statements can only be seen from inside; timings are never asserted here:
bench/auth_server.py prints the two latencies side by side.
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import event

from auth_server import migrate
from auth_server.app import create_app
from auth_server.config import Settings
from auth_server.services import Services

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture
def app(tmp_path: Path) -> FastAPI:
    url = f"sqlite:///{tmp_path / 'auth.sqlite3'}"
    migrate.upgrade(url)
    settings = Settings(
        environment="test", data_dir=tmp_path, auth_database_url=url, admin_password=PASSWORD
    )
    app = create_app(settings)
    services: Services = app.state.services
    with services.database.session_factory() as db:
        # Verified, with an organization and licenses: the most a known account can load.
        services.accounts.ensure_admin(db, PASSWORD)
    return app


async def _wrong_login(app: FastAPI, email: str) -> httpx.Response:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        return await client.post("/api/auth/login", json={"email": email, "password": "wrong one!"})


def statements_of(app: FastAPI, email: str) -> list[str]:
    """The SQL statements one wrong-password login runs, without their parameters."""
    engine = app.state.services.database.engine
    seen: list[str] = []

    def record(*args: Any) -> None:
        seen.append(re.sub(r"\s+", " ", args[2]))

    event.listen(engine, "before_cursor_execute", record)
    try:
        response = asyncio.run(_wrong_login(app, email))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    assert response.status_code == 401
    return seen


def test_wrong_password_and_unknown_address_run_the_same_statements(app: FastAPI) -> None:
    known = statements_of(app, "admin@rozitech.com")
    unknown = statements_of(app, "nobody@example.com")
    # Before the fix the known address also loaded its memberships, organization and
    # licenses before the password check: three more queries, ~4 ms on the bench.
    assert known == unknown
