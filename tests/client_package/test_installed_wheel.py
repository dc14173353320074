"""The client library as another product gets it: the `rozitech-auth` wheel, built from
clients/python and installed into a fresh virtualenv with only its declared dependencies
(one venv per extra, so the FastAPI one has no Django at all), protecting (a) a minimal
third-party Django/DRF project and (b) a minimal FastAPI app, against the real auth server.

Each app runs as its own process in hybrid mode (the default) over the waiting feed: a valid
token gets 200 with the user, a logged-out one is refused once the feed brings its logout
(how long that took is printed, not asserted), and an unreachable auth server gives 503 with
Retry-After.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from tests.saas_admin.helpers import Account, new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink
from tests.support.waiting import until

ROOT = Path(__file__).resolve().parents[2]
APPS = Path(__file__).resolve().parent / "apps"
# The app's own server: a FastAPI product depends on one; the library does not.
APP_SERVER = "uvicorn>=0.30,<1"


def _run(*args: str | Path) -> None:
    subprocess.run([str(a) for a in args], check=True, capture_output=True, timeout=600)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    dist = tmp_path_factory.mktemp("dist")
    _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", dist, ROOT / "clients/python"
    )
    (built,) = dist.glob("rozitech_auth-*.whl")
    return built


def _venv(root: Path, *requirements: str) -> Path:
    _run(sys.executable, "-m", "venv", root)
    python = root / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", *requirements)
    return python


@pytest.fixture(scope="module")
def django_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _venv(tmp_path_factory.mktemp("venv-django"), f"{wheel}[django]")


@pytest.fixture(scope="module")
def fastapi_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    python = _venv(tmp_path_factory.mktemp("venv-fastapi"), f"{wheel}[fastapi]", APP_SERVER)
    # Framework-free core: the FastAPI extra never brings Django along.
    found = subprocess.run([python, "-c", "import django"], capture_output=True, check=False)
    assert found.returncode != 0
    return python


@pytest.fixture(params=["django", "fastapi"])
def kind(request: pytest.FixtureRequest) -> str:
    """The third-party app: the Django/DRF project or the FastAPI app."""
    name: str = request.param
    return name


@pytest.fixture
def python(kind: str, request: pytest.FixtureRequest) -> Path:
    """The virtualenv's interpreter for `kind` (its own extra installed)."""
    found: Path = request.getfixturevalue(f"{kind}_python")
    return found


@pytest.fixture
def account(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> Account:
    """A new sign-up at the shared auth server."""
    return new_account(auth_server, smtp_sink)


def _env(auth_server: AuthServerProcess, service_url: str, workdir: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(APPS),
        "AUTH_SERVICE_URL": service_url,
        "AUTH_SERVICE_TOKEN": auth_server.service_token,
        "AUTH_SERVICE_TIMEOUT": "2",
        "AUTH_VERIFY_MODE": "hybrid",
        # No Redis: the waiting feed (long polls) carries revocations.
        "AUTH_REVOCATION_REDIS_URL": "none",
        "DJANGO_SETTINGS_MODULE": "djangoproject.settings",
        "PROJECT_DB": str(workdir / "project.sqlite3"),
    }


@contextmanager
def _app(
    kind: str, python: Path, env: dict[str, str], workdir: Path, module: str = "fastapi_app"
) -> Iterator[str]:
    """The app as a process of its own; yields its base URL."""
    port = free_port()
    if kind == "django":
        _run_env(python, env, "-m", "django", "migrate", "-v", "0")
        args = ["-m", "django", "runserver", f"127.0.0.1:{port}", "--noreload"]
    else:
        args = ["-m", "uvicorn", f"{module}:app", "--host", "127.0.0.1", "--port", str(port)]
    log = (workdir / f"{kind}.log").open("w")
    process = subprocess.Popen([str(python), *args], env=env, stdout=log, stderr=log)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base_url}/me", timeout=5)
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError((workdir / f"{kind}.log").read_text()) from None
                time.sleep(0.1)
        yield base_url
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def _run_env(python: Path, env: dict[str, str], *args: str) -> None:
    subprocess.run([str(python), *args], env=env, check=True, capture_output=True, timeout=120)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _user_id(kind: str, body: dict[str, object]) -> object:
    # DRF's identity view (rozitech_auth.django.views) or the FastAPI app's own answer.
    return body["authUserId"] if kind == "django" else body["userId"]


def test_installed_wheel_protects_a_third_party_app(
    kind: str, python: Path, account: Account, auth_server: AuthServerProcess, tmp_path: Path
) -> None:
    env = _env(auth_server, auth_server.base_url, tmp_path)
    with _app(kind, python, env, tmp_path) as app:
        assert httpx.get(f"{app}/me", timeout=10).status_code == 401
        answer = httpx.get(f"{app}/me", headers=_bearer(account.access_token), timeout=10)
        assert answer.status_code == 200, answer.text
        assert _user_id(kind, answer.json()) == account.user_id
        bad = httpx.get(f"{app}/me", headers=_bearer(account.access_token + "x"), timeout=10)
        assert bad.status_code == 401 and "Bearer" in bad.headers["WWW-Authenticate"]

        # Logged out at the auth server: the app's feed hears of it, and from then on the
        # token is refused (until it is, it is still accepted, never anything else).
        logged_out = time.monotonic()
        httpx.post(
            f"{auth_server.base_url}/api/auth/logout",
            json={"refreshToken": account.refresh_token},
            timeout=10,
        ).raise_for_status()

        def refused() -> bool:
            status = httpx.get(
                f"{app}/me", headers=_bearer(account.access_token), timeout=10
            ).status_code
            assert status in (200, 401), status
            return status == 401

        until(refused, "the revoked token refused")
        assert refused(), "a refused token came back"
        print(f"{kind}: revoked token refused after {time.monotonic() - logged_out:.3f} s")


def test_an_unreachable_auth_server_is_503_not_401(
    kind: str, python: Path, account: Account, auth_server: AuthServerProcess, tmp_path: Path
) -> None:
    # Nothing listens there: connections are refused, as from a stopped auth server.
    env = _env(auth_server, f"http://127.0.0.1:{free_port()}", tmp_path)
    with _app(kind, python, env, tmp_path) as app:
        answer = httpx.get(f"{app}/me", headers=_bearer(account.access_token), timeout=30)
    assert answer.status_code == 503, answer.text
    assert int(answer.headers["Retry-After"]) >= 1


def test_fastapi_role_and_license_dependencies(
    fastapi_python: Path, account: Account, auth_server: AuthServerProcess, tmp_path: Path
) -> None:
    env = _env(auth_server, auth_server.base_url, tmp_path)
    with _app("fastapi", fastapi_python, env, tmp_path) as app:
        # A new sign-up (`account`) owns its organization and holds a teamspace trial.
        headers = _bearer(account.access_token)
        owners = httpx.get(f"{app}/owners-only", headers=headers, timeout=10)
        assert owners.status_code == 200 and owners.json()["role"] == "owner"
        assert httpx.get(f"{app}/admins-only", headers=headers, timeout=10).status_code == 403
        licensed = httpx.get(f"{app}/teamspace", headers=headers, timeout=10)
        assert licensed.status_code == 200
        # Names and licensed products straight from the token (hybrid: no call to /me).
        assert licensed.json()["name"] == "Ann Bee"
        assert licensed.json()["products"] == ["teamspace"]
        refused = httpx.get(f"{app}/unknown-product", headers=headers, timeout=10)
        assert refused.status_code == 403
        assert refused.json()["detail"]["code"] == "license_required"


def test_fastapi_settings_given_in_code(
    fastapi_python: Path, account: Account, auth_server: AuthServerProcess, tmp_path: Path
) -> None:
    env = _env(auth_server, auth_server.base_url, tmp_path)
    # Only the code names the server: the environment's AUTH_* would point nowhere useful.
    env["PRODUCT_AUTH_URL"] = env.pop("AUTH_SERVICE_URL")
    with _app("fastapi", fastapi_python, env, tmp_path, "fastapi_configured") as app:
        answer = httpx.get(f"{app}/me", headers=_bearer(account.access_token), timeout=10)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["userId"] == account.user_id and body["mode"] == "remote"
    assert body["licenses"]["teamspace"]["status"] == "trial"
