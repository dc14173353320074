"""The real SaaS Admin, run as in production: `uvicorn config.asgi:application` in a
subprocess, over a database migrated with `manage.py migrate`."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.auth_process import REPO_ROOT, AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.ports import free_port
from tests.support.processes import START_DEADLINE, end

SAAS_ROOT = REPO_ROOT / "saas_admin"


@contextmanager
def saas_database(workdir: Path) -> Iterator[str]:
    """A fresh database for SaaS Admin processes: PostgreSQL when the suite runs on it
    (dropped afterwards), else a SQLite file they share."""
    folder = workdir / "saas-db"
    folder.mkdir(parents=True, exist_ok=True)
    with temporary_database(folder) as url:
        # Django (dj-database-url) wants the plain scheme, not SQLAlchemy's driver suffix.
        yield url.replace("postgresql+psycopg://", "postgresql://", 1)


class SaasAdminProcess:
    """One SaaS Admin replica on a free port; `settings` become environment variables."""

    def __init__(
        self,
        database_url: str,
        workers: int = 1,
        log_dir: Path | None = None,
        server: str = "uvicorn",
        **settings: Any,
    ) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        # uvicorn (ASGI, spawned workers) or gunicorn (WSGI, workers forked from a master that
        # loaded the application first: --preload), as in the Procfile.
        self.server = server
        log_dir = log_dir or Path(tempfile.mkdtemp(prefix="saas-admin-"))
        self.log_path = log_dir / f"saas-admin-{self.port}.log"
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "ENVIRONMENT": "test",
            "DJANGO_DEBUG": "false",
            "DATABASE_URL": database_url,
            "PYTHONUNBUFFERED": "1",
        }
        # The embedded default unless a test asks for Redis.
        self.env.pop("REDIS_URL", None)
        self.env.update({key.upper(): str(value) for key, value in settings.items()})
        self._process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> SaasAdminProcess:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=SAAS_ROOT, env=self.env, check=True, timeout=180,
        )  # fmt: skip
        return self

    def manage(self, *args: str) -> str:
        """`manage.py <args>` with this replica's settings; its stdout (fails on exit != 0)."""
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=SAAS_ROOT, env=self.env, capture_output=True, text=True, timeout=300,
            check=False,
        )  # fmt: skip
        assert result.returncode == 0, f"manage.py {args}:\n{result.stdout}\n{result.stderr}"
        return result.stdout

    def start(self, timeout: float = START_DEADLINE) -> SaasAdminProcess:
        log = self.log_path.open("ab")
        if self.server == "gunicorn":
            command = [
                sys.executable, "-m", "gunicorn", "config.wsgi:application", "--preload",
                "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
                "--worker-class", "gthread", "--threads", "4", "--log-level", "warning",
                "--no-control-socket",
            ]  # fmt: skip
        else:
            command = [
                sys.executable, "-m", "uvicorn", "config.asgi:application",
                "--host", "127.0.0.1", "--port", str(self.port),
                "--workers", str(self.workers), "--log-level", "warning", "--no-access-log",
            ]  # fmt: skip
        self._process = subprocess.Popen(
            command, cwd=SAAS_ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"SaaS Admin exited early:\n{self.log()}")
            try:
                if httpx.get(f"{self.base_url}/health", timeout=2).status_code in (200, 503):
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"SaaS Admin did not start:\n{self.log()}")

    def stop(self) -> None:
        end(self._process, timeout=15)
        self._process = None

    @property
    def pid(self) -> int | None:
        """The server's (master's, with several workers) process id while it runs."""
        return self._process.pid if self._process is not None else None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def trusting(auth: AuthServerProcess, staff_organization_id: str) -> dict[str, Any]:
    """SaasAdminProcess settings of a SaaS Admin that trusts `auth`: its address, the
    service credential, its revocation channel and the staff organization."""
    return {
        "auth_service_url": auth.base_url,
        "auth_service_token": auth.service_token,
        "auth_revocation_channel": auth.revocation_channel,
        "saas_admin_staff_organization_id": staff_organization_id,
    }
