"""The command line as `make run` uses it: migrations, the first admin, production checks."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx
import jwt
from cryptography.fernet import Fernet
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

from auth_server.keys import generate_private_key_pem, key_id
from tests.auth_server.helpers import login, new_email, signup
from tests.auth_server.mfa_helpers import enrolling_login
from tests.support.auth_process import REPO_ROOT, AuthServerProcess
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d[ T]\d\d:\d\d:\d\d")


def test_first_admin_is_created_once_and_can_log_in(tmp_path: Path) -> None:
    server = AuthServerProcess(f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path).migrate()
    first = server.create_admin()
    assert first.startswith("Admin account: admin@rozitech.com  password: ")
    password = first.splitlines()[0].split("password: ")[1].strip()
    staff = first.splitlines()[1].split(": ")[1]
    assert (tmp_path / "staff-organization").read_text() == staff
    # Outside production the generated password is kept (0600) so a re-run can show it again.
    assert server.create_admin() == first
    assert (tmp_path / "admin-password.txt").stat().st_mode & 0o777 == 0o600
    server.start()
    try:
        with httpx.Client(base_url=server.base_url) as client:
            session = login(client, "admin@rozitech.com", password)
        assert session["organization"]["name"] == "Rozitech"
        assert session["organization"]["role"] == "owner"
        assert session["organization"]["id"] == staff
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
    assert "MFA_ENCRYPTION_KEY" in result.stderr
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


def test_production_signs_with_the_configured_key(tmp_path: Path, smtp_sink: SmtpSink) -> None:
    current, retired = generate_private_key_pem(), generate_private_key_pem()
    retired_public = (
        serialization.load_pem_private_key(retired, password=None)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    server = AuthServerProcess(
        f"sqlite:///{tmp_path / 'auth.sqlite3'}",
        tmp_path,
        smtp_port=smtp_sink.port,
        environment="production",
        jwt_private_key=current.decode(),
        jwt_previous_public_keys=retired_public.decode(),
        mfa_encryption_key=Fernet.generate_key().decode(),
        admin_password="a-strong-admin-passphrase",
    ).migrate()
    server.create_admin()
    server.start()
    try:
        with httpx.Client(base_url=server.base_url) as client:
            # In production the staff organization requires MFA: the admin enrols first.
            signed_in = enrolling_login(client, "admin@rozitech.com", "a-strong-admin-passphrase")
            token = signed_in["accessToken"]
            kids = [k["kid"] for k in client.get("/.well-known/jwks.json").json()["keys"]]
    finally:
        server.stop()
    current_key = serialization.load_pem_private_key(current, password=None)
    assert isinstance(current_key, RSAPrivateKey)
    assert jwt.get_unverified_header(token)["kid"] == key_id(current_key.public_key())
    assert len(kids) == 2 and kids[0] == key_id(current_key.public_key())
    assert not (tmp_path / "keys").exists()  # nothing generated on disk in production


def test_api_docs_and_openapi(client: httpx.Client) -> None:
    docs = client.get("/api-docs")
    assert docs.status_code == 200 and "swagger-ui" in docs.text.lower()
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/auth/signup", "/api/auth/login", "/api/auth/me", "/health"):
        assert path in paths


def test_serve_takes_host_and_port_and_logs_with_timestamps(tmp_path: Path) -> None:
    """Two replicas on one host share one .env: the flags win over AUTH_SERVER_PORT. Every
    log line (uvicorn's and the server's own, in each worker) starts with its time."""
    server = AuthServerProcess(f"sqlite:///{tmp_path / 'auth.sqlite3'}", tmp_path).migrate()
    port = free_port()
    log = (tmp_path / "serve.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "auth_server", "serve", "--workers", "2",
         "--host", "127.0.0.1", "--port", str(port)],
        cwd=REPO_ROOT, env=server.env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, (tmp_path / "serve.log").read_text()
            time.sleep(0.1)
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            # Without SMTP_HOST the code is logged by the server itself (auth_server.mail).
            assert signup(client, new_email()).status_code == 201
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
    lines = (tmp_path / "serve.log").read_text().splitlines()
    # The first line of each record: uvicorn's, the request line and the server's own.
    markers = ("Uvicorn running", "path=/api/auth/signup", "E-mail (no SMTP_HOST set)")
    for marker in markers:
        records = [line for line in lines if marker in line]
        assert records, marker
        assert all(TIMESTAMP.match(line) for line in records), records
