"""The Procfile's process types, run as written (bash, the venv's executables on PATH)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.auth_process import REPO_ROOT
from tests.support.ports import free_port
from tests.support.saas_process import SaasAdminProcess, saas_database


def procfile() -> dict[str, str]:
    lines = (REPO_ROOT / "Procfile").read_text().splitlines()
    pairs = (line.split(": ", 1) for line in lines if line and not line.startswith("#"))
    return {name: command for name, command in pairs}


def test_two_saas_admin_replicas_on_one_host_keep_to_themselves(tmp_path: Path) -> None:
    """gunicorn puts its control socket under $HOME by default, one path for every instance:
    the second replica's replaced the first's (and removed it on exit). The Procfile's
    replicas open none."""
    home = tmp_path / "home"
    home.mkdir()
    with saas_database(tmp_path) as database_url:
        SaasAdminProcess(database_url).migrate()
        ports = [free_port(), free_port()]
        env = {
            **os.environ,
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
            "HOME": str(home),
            "ENVIRONMENT": "test",
            "DATABASE_URL": database_url,
            "SAAS_ADMIN_HOST": "127.0.0.1",
            "SAAS_WORKERS": "1",
        }
        replicas = [
            subprocess.Popen(
                ["bash", "-c", procfile()["saas"]],
                cwd=REPO_ROOT,
                env={**env, "SAAS_ADMIN_PORT": str(port)},
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            for port in ports
        ]
        try:
            for port in ports:
                deadline = time.monotonic() + 60
                while True:
                    try:
                        health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                        break
                    except httpx.TransportError:
                        assert time.monotonic() < deadline, "replica did not start"
                        time.sleep(0.2)
                assert health.status_code in (200, 503)
            assert list(home.rglob("*.ctl")) == []
        finally:
            for replica in replicas:
                # The whole process group: the gunicorn master and its workers.
                os.killpg(replica.pid, signal.SIGTERM)
                replica.wait(timeout=30)
