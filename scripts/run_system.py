"""`make run`: the whole system on its embedded default (SQLite, in-process cache).

Migrates both services, creates the first admin in the auth server and prints its
credentials (the password only when it was generated), seeds the catalogue and a demo
organization, then runs the auth server (:4000) with its mail worker, the SaaS Admin
(:3002) and its license outbox worker until Ctrl-C, which stops them all. The SaaS Admin
finds the auth server's development service token in DATA_DIR/service-token, and
forwards its users' addresses with it. The SaaS Admin is registered as the auth server's
first-party OpenID Connect client ("Sign in with Rozitech"), once: its id and secret are
kept in DATA_DIR and passed to it.

Settings come from the environment and `.env` alike (the environment wins), read before
any default is filled in. Everything written to DATA_DIR is private to this account.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import FrameType

from dotenv import load_dotenv

ROOT = Path(__file__).resolve().parents[1]
MANAGE = [sys.executable, str(ROOT / "saas_admin" / "manage.py")]
AUTH = [sys.executable, "-m", "auth_server"]
# The SaaS Admin's OpenID Connect client (id and secret), kept between runs (0600).
CLIENT_FILE = "saas-admin-client.json"
CLIENT_NAME = "SaaS Admin"
ADMIN_LINE = re.compile(r"Admin account: (?P<email>\S+)\s+password: (?P<password>\S+)")


def run(command: list[str], env: dict[str, str] | None = None) -> str:
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, env=env)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command[1:])} failed:\n{result.stdout}{result.stderr}")
    return result.stdout


def wait_healthy(url: str, process: subprocess.Popen[bytes], name: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{name} exited with code {process.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 (our own local URL)
                return
        except urllib.error.HTTPError:
            return  # it answers: degraded is still up
        except OSError:
            time.sleep(0.3)
    sys.exit(f"{name} did not answer at {url}")


def private_data_dir() -> Path:
    """DATA_DIR (0700) with its files 0600, those of earlier runs included: it holds the
    SQLite databases, the signing keys and the service token."""
    data_dir = ROOT / os.environ.get("DATA_DIR", "data")
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    data_dir.chmod(0o700)
    for path in data_dir.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o700 if path.is_dir() else 0o600)
    return data_dir


def saas_admin_client(data_dir: Path, admin_port: str) -> dict[str, str]:
    """SAAS_ADMIN_OIDC_CLIENT_ID/_SECRET for the SaaS Admin: the operator's own when set,
    else its client at the auth server, registered on the first run and reused after (made
    again, the old one deleted, when its file is lost or its redirect URIs changed: the
    secret is stored hashed there, so it cannot be read back)."""
    if os.environ.get("SAAS_ADMIN_OIDC_CLIENT_ID"):
        return {}
    # Both names of this machine: the login page is reached at either.
    hosts = (f"http://localhost:{admin_port}", f"http://127.0.0.1:{admin_port}")
    redirects = [f"{host}/admin/sso/callback/" for host in hosts]
    after_logout = [f"{host}/admin/login/" for host in hosts]
    path = data_dir / CLIENT_FILE
    try:
        saved = json.loads(path.read_text())
    except (OSError, ValueError):
        saved = {}
    listed = run([*AUTH, "clients", "list", "--json"]).splitlines()  # one object a line
    for client in map(json.loads, filter(None, listed)):
        if client["clientId"] == saved.get("clientId") and client["redirectUris"] == redirects:
            return {
                "SAAS_ADMIN_OIDC_CLIENT_ID": saved["clientId"],
                "SAAS_ADMIN_OIDC_CLIENT_SECRET": saved["clientSecret"],
            }
        if client["name"] == CLIENT_NAME:
            run([*AUTH, "clients", "delete", client["clientId"]])
    command = [*AUTH, "clients", "create", "--name", CLIENT_NAME, "--first-party", "--json"]
    command += [arg for uri in redirects for arg in ("--redirect-uri", uri)]
    command += [arg for uri in after_logout for arg in ("--post-logout-redirect-uri", uri)]
    created = json.loads(run(command))
    # Written under the umask set in main(): owner only.
    path.write_text(json.dumps({key: created[key] for key in ("clientId", "clientSecret")}))
    return {
        "SAAS_ADMIN_OIDC_CLIENT_ID": created["clientId"],
        "SAAS_ADMIN_OIDC_CLIENT_SECRET": created["clientSecret"],
    }


def main() -> None:
    # .env before the defaults: a port or URL written there counts like an exported one.
    load_dotenv(ROOT / ".env", override=False)
    auth_port = os.environ.setdefault("AUTH_SERVER_PORT", "4000")
    admin_port = os.environ.setdefault("SAAS_ADMIN_PORT", "3002")
    auth_url = os.environ.setdefault("AUTH_SERVICE_URL", f"http://localhost:{auth_port}")
    # The auth server writes mail to its outbox; the mail worker below delivers it (as in
    # production, see the Procfile), unless MAIL_DELIVERY says otherwise.
    os.environ.setdefault("MAIL_DELIVERY", "worker")
    # Quiet: no line per request or start-up step, only warnings (the development mails
    # among them) and the summary below; LOG_LEVEL=info in .env shows every request.
    os.environ.setdefault("LOG_LEVEL", "warning")
    # Every file the services create from here on (databases, keys, tokens): owner only.
    os.umask(0o077)
    data_dir = private_data_dir()

    run([*AUTH, "migrate"])
    credentials = run([*AUTH, "create-admin"]).strip()
    run([*MANAGE, "migrate", "--noinput"])
    run([*MANAGE, "seed_catalog"])
    # Passed in the environment of the SaaS Admin alone, never in argv (ps).
    admin_env = {**os.environ, **saas_admin_client(data_dir, admin_port)}

    processes: list[subprocess.Popen[bytes]] = []

    def stop(_signum: int = 0, _frame: FrameType | None = None) -> None:
        for process in processes:
            if process.poll() is None:
                process.terminate()
        for process in processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()

    signal.signal(signal.SIGTERM, stop)
    try:
        auth = subprocess.Popen([*AUTH, "serve"], cwd=ROOT)
        processes.append(auth)
        # Codes and links go out through it (to the log here, without SMTP_HOST).
        processes.append(subprocess.Popen([*AUTH, "mail-worker"], cwd=ROOT))
        wait_healthy(f"{auth_url}/health", auth, "auth server")
        match = ADMIN_LINE.search(credentials)
        if match:
            # The operator's own password is not printed (create-admin says so): the demo
            # logs in with ADMIN_PASSWORD. Passed in the environment, never in argv (ps).
            password = match["password"]
            env = os.environ.copy()
            if password != "(ADMIN_PASSWORD)":
                env["ADMIN_PASSWORD"] = password
            print(run([*MANAGE, "seed_demo", "--email", match["email"]], env).strip())
        # runserver's banner goes to stdout: dropped (the summary below says where it is);
        # its log lines (stderr) stay.
        admin = subprocess.Popen(
            [*MANAGE, "runserver", f"127.0.0.1:{admin_port}", "--noreload"],
            cwd=ROOT,
            env=admin_env,
            stdout=subprocess.DEVNULL,
        )
        processes.append(admin)
        # Licenses follow subscriptions: the outbox worker delivers them to the auth server.
        processes.append(subprocess.Popen([*MANAGE, "deliver_outbox"], cwd=ROOT))
        wait_healthy(f"http://localhost:{admin_port}/health", admin, "SaaS Admin")
        print(
            "\n"
            f"  Auth server  {auth_url}   (Swagger UI: {auth_url}/api-docs)\n"
            f"  SaaS Admin   http://localhost:{admin_port}   (admin site: /admin/, "
            "API docs: /api/docs/)\n"
            f"  {credentials}\n"
            "  Ctrl-C stops them all.\n",
            flush=True,
        )
        while all(p.poll() is None for p in processes):
            time.sleep(0.5)
        sys.exit("a service stopped; stopping the other")
    except KeyboardInterrupt:
        pass
    finally:
        stop()


if __name__ == "__main__":
    main()
