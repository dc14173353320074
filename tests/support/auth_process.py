"""The real auth server, run as users run it: `python -m auth_server serve` in a subprocess."""

from __future__ import annotations

import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.support.ports import free_port
from tests.support.processes import START_DEADLINE, end

REPO_ROOT = Path(__file__).resolve().parents[2]


class AuthServerProcess:
    """One auth server process on a free port, over a database it migrates first."""

    def __init__(
        self,
        database_url: str,
        data_dir: Path | None = None,
        smtp_port: int | None = None,
        **settings: Any,
    ) -> None:
        self.database_url = database_url
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="auth-data-"))
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ENVIRONMENT": "test",
            "DATA_DIR": str(self.data_dir),
            "AUTH_DATABASE_URL": database_url,
            "AUTH_SERVER_PORT": str(self.port),
            "AUTH_PUBLIC_URL": self.base_url,
            "SMTP_HOST": "127.0.0.1" if smtp_port else "",
            "SMTP_PORT": str(smtp_port or 25),
            "SMTP_STARTTLS": "false",
            "PYTHONUNBUFFERED": "1",
            # A fresh Redis key prefix per process: runs sharing one Redis never collide.
            "RATE_LIMIT_KEY_PREFIX": f"test-{uuid.uuid4().hex}",
            # The credential of trusted services (revocation feed, admin API); pass the same
            # `service_token` to several processes that must act as one deployment.
            "SERVICE_TOKEN": secrets.token_urlsafe(32),
            # Likewise a channel of its own, unless given: runs sharing one Redis never see
            # each other's revocation events.
            "REVOCATION_CHANNEL": f"test-revocations-{uuid.uuid4().hex}",
        }
        self.env.update({key.upper(): str(value) for key, value in settings.items()})
        # What a trusted service sends as X-Service-Token ("" when the server generates
        # its own into DATA_DIR/service-token), and where revocation events are published.
        self.service_token = self.env["SERVICE_TOKEN"].split(",")[0].strip()
        self.revocation_channel = self.env["REVOCATION_CHANNEL"]
        self.log_path = self.data_dir / "server.log"
        self._process: subprocess.Popen[bytes] | None = None

    def migrate(self) -> AuthServerProcess:
        self._command("migrate")
        return self

    def create_admin(self) -> str:
        return self._command("create-admin")

    def first_admin(self) -> tuple[str, str, str]:
        """`create-admin` run for the first time: the admin's e-mail and generated password,
        and the staff organization's id, as it prints them."""
        printed = self.create_admin()
        account = re.search(r"Admin account: (\S+)\s+password: (\S+)", printed)
        staff = re.search(
            r"Staff organization \(SAAS_ADMIN_STAFF_ORGANIZATION_ID\): (\S+)", printed
        )
        assert account and staff, printed
        return account.group(1), account.group(2), staff.group(1)

    def register_client(
        self, name: str, redirect_uri: str, post_logout_redirect_uri: str
    ) -> dict[str, str]:
        """A first-party confidential OIDC client made with the CLI (`clients create`): its
        `clientId` and `clientSecret`, as printed once."""
        printed = self._command(
            "clients", "create", "--name", name, "--first-party", "--redirect-uri", redirect_uri,
            "--post-logout-redirect-uri", post_logout_redirect_uri, "--json",
        )  # fmt: skip
        created: dict[str, str] = json.loads(printed)
        return created

    def run_command(self, *args: str) -> str:
        """`python -m auth_server <args>` with this server's settings; its stdout."""
        return self._command(*args)

    def _command(self, *args: str) -> str:
        result = subprocess.run(
            [sys.executable, "-m", "auth_server", *args],
            cwd=REPO_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"auth_server {args} failed:\n{result.stdout}\n{result.stderr}")
        return result.stdout

    def start(self, timeout: float = START_DEADLINE, workers: int = 1) -> AuthServerProcess:
        """Start and wait until /health says the server and its database are up. `workers`:
        uvicorn worker processes (`serve --workers`; more than 1 for the benchmarks)."""
        return self._start(timeout, ready_statuses={200}, workers=workers)

    def start_unhealthy(self, timeout: float = START_DEADLINE) -> AuthServerProcess:
        """Start and wait until the server answers, whatever its health."""
        return self._start(timeout, ready_statuses={200, 503})

    def _start(
        self, timeout: float, ready_statuses: set[int], workers: int = 1
    ) -> AuthServerProcess:
        log = self.log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "auth_server", "serve", "--workers", str(workers)],
            cwd=REPO_ROOT,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"auth server exited early:\n{self.log()}")
            try:
                health = httpx.get(f"{self.base_url}/health", timeout=1)
                if health.status_code in ready_statuses:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"auth server did not become healthy:\n{self.log()}")

    def stop(self) -> None:
        end(self._process)
        self._process = None

    @property
    def pid(self) -> int | None:
        """The server process's id while it runs (one worker: the process that serves)."""
        return self._process.pid if self._process is not None else None

    def service_headers(self) -> dict[str, str]:
        """Headers of a trusted service calling this server (feed, admin API)."""
        return {"X-Service-Token": self.service_token}

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
