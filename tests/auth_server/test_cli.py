"""The command line as `make run` uses it: migrations, the first admin, production checks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx

from tests.auth_server.helpers import login
from tests.support.auth_process import REPO_ROOT, AuthServerProcess


def test_first_admin_is_created_once_and_can_log_in(tmp_path: Path) -> None:
    server = AuthServerProcess(f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path).migrate()
    first = server.create_admin()
    assert first.startswith("Admin account: admin@rozitech.com  password: ")
    password = first.split("password: ")[1].strip()
    # Outside production the generated password is kept (0600) so a re-run can show it again.
    assert server.create_admin() == first
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o777 == 0o600
    server.start()
    try:
        with httpx.Client(base_url=server.base_url) as client:
            session = login(client, "admin@rozitech.com", password)
        assert session["organization"]["name"] == "Rozitech"
        assert session["organization"]["role"] == "owner"
        assert {lic["status"] for lic in session["licenses"].values()} == {"active"}
    finally:
        server.stop()


def test_production_refuses_to_start_without_secrets(tmp_path: Path) -> None:
    server = AuthServerProcess(f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path)
    env = {**server.env, "ENVIRONMENT": "production", "JWT_PRIVATE_KEY": "", "SMTP_HOST": ""}
    result = subprocess.run(
        [sys.executable, "-m", "auth_server", "serve"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "JWT_PRIVATE_KEY" in result.stderr and "SMTP_HOST" in result.stderr
    assert not (tmp_path / "keys").exists()  # no development key was generated


def test_weak_admin_password_is_refused(tmp_path: Path) -> None:
    server = AuthServerProcess(
        f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path, admin_password="password1"
    ).migrate()
    result = subprocess.run(
        [sys.executable, "-m", "auth_server", "create-admin"],
        cwd=REPO_ROOT,
        env=server.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "ADMIN_PASSWORD" in result.stderr
