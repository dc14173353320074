"""The release step: one idempotent bootstrap command per service, run on every deploy.
Each runs twice against a real database (PostgreSQL when the suite runs on it): the second
run exits 0 and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.saas_process import SaasAdminProcess, saas_database

ADMIN_PASSWORD = "a long bootstrap passphrase"


def auth_rows(database_url: str) -> dict[str, list[Any]]:
    """Every row of every table, in a stable order."""
    engine = sa.create_engine(database_url)
    try:
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            return {
                name: sorted(repr(tuple(row)) for row in connection.execute(table.select()))
                for name, table in metadata.tables.items()
            }
    finally:
        engine.dispose()


def test_auth_server_bootstrap_twice(tmp_path: Path) -> None:
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(database_url, tmp_path, admin_password=ADMIN_PASSWORD)
        first = server.run_command("bootstrap")
        assert "Admin account: admin@rozitech.com" in first
        staff = (tmp_path / "staff-organization").read_text()
        assert f"SAAS_ADMIN_STAFF_ORGANIZATION_ID): {staff}" in first
        before = auth_rows(database_url)
        assert len(before["users"]) == 1
        second = server.run_command("bootstrap")
        assert auth_rows(database_url) == before
        assert (tmp_path / "staff-organization").read_text() == staff
        assert f"SAAS_ADMIN_STAFF_ORGANIZATION_ID): {staff}" in second


def test_saas_admin_bootstrap_twice(tmp_path: Path) -> None:
    static_root = tmp_path / "static"
    with saas_database(tmp_path) as database_url:
        replica = SaasAdminProcess(
            database_url, 1, tmp_path,
            ENVIRONMENT="production",
            DJANGO_SETTINGS_MODULE="config.settings.production",
            DJANGO_SECRET_KEY="bootstrap-test-" + "x" * 40,
            AUTH_SERVICE_TOKEN="bootstrap-test-" + "y" * 40,
            DJANGO_STATIC_ROOT=str(static_root),
        )  # fmt: skip
        assert "Catalogue: 3 products, 12 plans" in replica.manage("bootstrap")
        assert (static_root / "admin").is_dir()
        # An operator's edit in the admin site survives the next deploy.
        replica.manage(
            "shell", "-c",
            "from billing.models import Plan; Plan.objects.filter(code='starter-monthly')"
            ".update(price=7)",
        )  # fmt: skip
        before = replica.manage("dumpdata", "billing", "organizations", "accounts")
        collected = sorted(static_root.rglob("*"))
        second = replica.manage("bootstrap")
        assert "0 static files copied" in second
        assert replica.manage("dumpdata", "billing", "organizations", "accounts") == before
        assert sorted(static_root.rglob("*")) == collected
        prices = {
            (row["fields"]["code"], row["fields"]["price"])
            for row in json.loads(before)
            if row["model"] == "billing.plan"
        }
        assert ("starter-monthly", "7.00") in prices
