"""The README's non-Django product (Authlib's Starlette client), run as its users run it:
the very code block of the README's "Single sign-on" section, saved as product.py and served
by uvicorn in a subprocess."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.support.auth_process import REPO_ROOT
from tests.support.ports import free_port
from tests.support.processes import START_DEADLINE, end

# The block starts with this line in the README (and nothing else starts so).
FIRST_LINE = "# product.py: uvicorn product:app"


def readme_product() -> str:
    """The README's example, as written there."""
    readme = (REPO_ROOT / "README.md").read_text()
    start = readme.index(f"```python\n{FIRST_LINE}") + len("```python\n")
    return readme[start : readme.index("```", start)]


class ProductProcess:
    """One process of the README's product on a free port; `base_url` is known before it
    starts, so that its client can be registered with that address first."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.redirect_uri = f"{self.base_url}/callback"
        self.post_logout_redirect_uri = f"{self.base_url}/"
        self.log_path = workdir / "product.log"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, issuer: str, client_id: str, client_secret: str) -> ProductProcess:
        (self.workdir / "product.py").write_text(readme_product())
        env = {
            **os.environ,
            "ROZITECH_ISSUER": issuer,
            "ROZITECH_CLIENT_ID": client_id,
            "ROZITECH_CLIENT_SECRET": client_secret,
            "SESSION_SECRET": secrets.token_urlsafe(32),
            "PYTHONUNBUFFERED": "1",
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "product:app", "--host", "127.0.0.1",
             "--port", str(self.port), "--log-level", "warning"],
            cwd=self.workdir, env=env, stdout=self.log_path.open("ab"), stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + START_DEADLINE
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise RuntimeError(f"the product exited early:\n{self.log()}")
            try:
                httpx.get(self.base_url, timeout=2)
                return self
            except httpx.TransportError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"the product did not start:\n{self.log()}")

    def stop(self) -> None:
        end(self._process)
        self._process = None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
