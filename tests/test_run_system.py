"""`make run` (scripts/run_system.py) as a new user runs it: settings from `.env`, nothing
secret echoed, private files, readable output, a quiet Ctrl-C.

The script reads the `.env` beside the code, so it runs from a copy of the code with a
`.env` of the test's own; both services and the outbox worker are real processes.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from tests.support.auth_process import REPO_ROOT
from tests.support.ports import free_port

# What the operator's environment must not decide here: the .env must.
OVERRIDDEN = (
    "AUTH_SERVER_PORT", "SAAS_ADMIN_PORT", "AUTH_SERVICE_URL", "AUTH_PUBLIC_URL", "DATA_DIR",
    "AUTH_DATABASE_URL", "DATABASE_URL", "REDIS_URL", "ADMIN_PASSWORD", "ADMIN_EMAIL",
    "SERVICE_TOKEN", "AUTH_SERVICE_TOKEN", "ENVIRONMENT", "SMTP_HOST", "DJANGO_SETTINGS_MODULE",
    "SAAS_ADMIN_OIDC_CLIENT_ID", "SAAS_ADMIN_OIDC_CLIENT_SECRET",
)  # fmt: skip


class RunningSystem:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.auth_port, self.saas_port = free_port(), free_port()
        self.password = secrets.token_urlsafe(18)
        self.data_dir = root / "data"
        (root / ".env").write_text(
            f"AUTH_SERVER_PORT={self.auth_port}\n"
            f"SAAS_ADMIN_PORT={self.saas_port}\n"
            f"AUTH_SERVICE_URL=http://127.0.0.1:{self.auth_port}\n"
            f"DATA_DIR={self.data_dir}\n"
            f"ADMIN_PASSWORD={self.password}\n"
        )
        self.output_path = root / "output.txt"
        self.start()

    def start(self) -> None:
        """`make run` on this copy's .env and data (again, after a Ctrl-C)."""
        env = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN}
        env["PYTHONUNBUFFERED"] = "1"
        # Like a terminal: its own process group, which Ctrl-C signals as a whole.
        self.process = subprocess.Popen(
            [sys.executable, str(self.root / "scripts" / "run_system.py")],
            cwd=self.root, env=env, stdout=self.output_path.open("wb"),
            stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip

    def output(self) -> str:
        return self.output_path.read_text(errors="replace")

    def wait_for(self, text: str, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        while text not in self.output():
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"no {text!r} in the output:\n{self.output()}")
            time.sleep(0.2)

    def ctrl_c(self) -> int:
        os.killpg(self.process.pid, signal.SIGINT)
        return self.process.wait(timeout=60)

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


@pytest.fixture(scope="module")
def system(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningSystem]:
    root: Path = tmp_path_factory.mktemp("make-run")
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for part in ("auth_server", "saas_admin", "scripts"):
        shutil.copytree(REPO_ROOT / part, root / part, ignore=ignore)
    running = RunningSystem(root)
    try:
        running.wait_for("Ctrl-C stops them all")
        yield running
    finally:
        running.kill()


def test_ports_and_urls_written_in_env_are_honoured(system: RunningSystem) -> None:
    auth = httpx.get(f"http://127.0.0.1:{system.auth_port}/health", timeout=10)
    saas = httpx.get(f"http://127.0.0.1:{system.saas_port}/health", timeout=10)
    assert auth.json()["status"] == "healthy"
    assert saas.status_code == 200 and saas.json()["database"] == "connected"
    assert f"http://127.0.0.1:{system.auth_port}" in system.output()
    assert f"http://localhost:{system.saas_port}" in system.output()


def test_the_saas_admin_forwards_end_user_addresses_out_of_the_box(system: RunningSystem) -> None:
    email = f"nobody-{secrets.token_hex(4)}@example.com"
    with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.9")) as client:
        response = client.post(
            f"http://127.0.0.1:{system.saas_port}/api/auth/login",
            json={"email": email, "password": "wrong-guess-1"},
            timeout=30,
        )
    assert response.status_code == 401
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN}
    audit = subprocess.run(
        [sys.executable, "-m", "auth_server", "audit", "--event", "login_failed", "--json"],
        cwd=system.root, env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert f'"email": "{email}"' in audit.stdout
    assert '"ip": "127.0.0.9"' in audit.stdout


def test_a_supplied_admin_password_is_not_echoed(system: RunningSystem) -> None:
    output = system.output()
    assert system.password not in output
    assert "Admin account: admin@rozitech.com  password: (ADMIN_PASSWORD)" in output
    # The demo organization was still seeded with it.
    assert "Demo organization:" in output


def test_data_files_are_private(system: RunningSystem) -> None:
    assert stat.S_IMODE(system.data_dir.stat().st_mode) == 0o700
    files = [p for p in system.data_dir.rglob("*") if p.is_file()]
    names = {p.name for p in files}
    assert {"auth.sqlite3", "saas_admin.sqlite3", "service-token"} <= names
    assert any(p.suffix == ".pem" for p in files)
    for path in system.data_dir.rglob("*"):
        # Nothing for the group or others: keys, tokens, databases with password hashes.
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, path


def test_mailed_codes_stand_out_and_feed_polls_are_not_logged(system: RunningSystem) -> None:
    # Hybrid mode is live once the SaaS Admin's feed has polled the auth server at least once.
    saas = f"http://127.0.0.1:{system.saas_port}"
    deadline = time.monotonic() + 60
    while httpx.get(f"{saas}/health", timeout=10).json()["revocations"] != "live":
        assert time.monotonic() < deadline, "the revocation feed never became live"
        time.sleep(0.2)
    email = f"ann-{secrets.token_hex(4)}@example.com"
    signup = httpx.post(
        f"http://127.0.0.1:{system.auth_port}/api/auth/signup",
        json={"email": email, "password": "a long passphrase 1", "firstName": "Ann",
              "lastName": "Bee", "company": "Acme"},
        timeout=30,
    )  # fmt: skip
    assert signup.status_code == 201
    system.wait_for(f"To:      {email}")
    block = system.output().split(f"To:      {email}", 1)[1]
    assert re.search(r"^={72}$", system.output(), re.MULTILINE)
    assert re.search(r"\b\d{6}\b", block.split("=" * 72, 1)[0])
    assert "/api/auth/revocations" not in system.output()


def test_the_readme_shows_what_make_run_prints(system: RunningSystem) -> None:
    readme = (REPO_ROOT / "README.md").read_text()
    block = readme.split("Once both answer, it prints:\n\n```\n", 1)[1].split("```", 1)[0]
    expected = (
        block.replace("http://localhost:4000", f"http://127.0.0.1:{system.auth_port}")
        .replace("3002", str(system.saas_port))
        # This run supplies ADMIN_PASSWORD; the README says what is printed then.
        .replace("<the generated password>", "(ADMIN_PASSWORD)")
    )
    lines = [line for line in expected.splitlines() if line.strip()]
    assert len(lines) == 4
    for line in lines:
        assert line in system.output()


def test_ctrl_c_stops_everything_quietly(system: RunningSystem) -> None:
    assert system.ctrl_c() == 0
    output = system.output()
    assert "Traceback" not in output and "KeyboardInterrupt" not in output


def saas_admin_clients(system: RunningSystem) -> list[dict[str, object]]:
    """The auth server's clients named "SaaS Admin", as its CLI lists them."""
    env = {k: v for k, v in os.environ.items() if k not in OVERRIDDEN}
    listed = subprocess.run(
        [sys.executable, "-m", "auth_server", "clients", "list", "--json"],
        cwd=system.root, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    clients = [json.loads(line) for line in listed.splitlines() if line.strip()]
    return [client for client in clients if client["name"] == "SaaS Admin"]


def sign_in_button_goes_to_the_provider(system: RunningSystem) -> dict[str, str]:
    """Where the admin site's "Sign in with Rozitech" sends the browser: the provider's
    authorization endpoint, which knows the client (an unknown one gets an error page)."""
    saas = f"http://127.0.0.1:{system.saas_port}"
    with httpx.Client(timeout=30) as browser:
        assert "sign-in-with-rozitech" in browser.get(f"{saas}/admin/login/").text
        start = browser.get(f"{saas}/admin/sso/login/")
        assert start.status_code == 302, start.text
        location = urlsplit(start.headers["Location"])
        query = {key: values[0] for key, values in parse_qs(location.query).items()}
        assert query["redirect_uri"] == f"{saas}/admin/sso/callback/"
        # No browser session at the auth server yet: on to its sign-in page.
        authorize = browser.get(start.headers["Location"])
        assert authorize.status_code in (302, 303), authorize.text
        assert "/signin" in authorize.headers["Location"]
    return query


def test_a_second_run_on_the_same_data_keeps_the_saas_admin_client(system: RunningSystem) -> None:
    # The previous test stopped the first run: the same .env and data, started again.
    first = json.loads((system.data_dir / "saas-admin-client.json").read_text())
    system.start()
    try:
        system.wait_for("Ctrl-C stops them all")
        assert [client["clientId"] for client in saas_admin_clients(system)] == [first["clientId"]]
        assert sign_in_button_goes_to_the_provider(system)["client_id"] == first["clientId"]
        assert first["clientSecret"] not in system.output()
    finally:
        assert system.ctrl_c() == 0
