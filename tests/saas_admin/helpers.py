"""Helpers for the SaaS Admin tests: real accounts on the real auth server, minted tokens."""

from __future__ import annotations

import socket
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from rest_framework.test import APIClient

from auth_server.keys import key_id
from tests.auth_server.helpers import login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink
from tests.support.waiting import HANG_GUARD, until


@dataclass
class Account:
    email: str
    user_id: str
    access_token: str
    refresh_token: str
    login_data: dict[str, Any]


def new_account(server: AuthServerProcess, smtp: SmtpSink, **overrides: Any) -> Account:
    """Sign up, verify with the e-mailed code, log in: a real user with real tokens."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp, **overrides)
        data = login(http, email)
    return Account(
        email=email,
        user_id=data["user"]["id"],
        access_token=data["accessToken"],
        refresh_token=data["refreshToken"],
        login_data=data,
    )


def signing_key(server: AuthServerProcess) -> rsa.RSAPrivateKey:
    """The server's current development signing key (the newest file signs)."""
    path: Path = sorted((server.data_dir / "keys").glob("*.pem"))[-1]
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return key


def remint(server: AuthServerProcess, token: str, **changes: Any) -> str:
    """The same token with some claims changed, signed with the server's own key: the
    server accepts it as long as its session is live."""
    claims = jwt.decode(token, options={"verify_signature": False})
    claims.update(changes)
    claims = {k: v for k, v in claims.items() if v is not None}
    key = signing_key(server)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": key_id(key.public_key())})


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def now() -> int:
    return int(time.time())


def new_uuid() -> str:
    return str(uuid.uuid4())


class HangingServer:
    """Accepts TCP connections and never answers: a hung auth server. With `drop=True` it
    closes each connection at once instead (a dropped connection)."""

    def __init__(self, drop: bool = False) -> None:
        self.drop = drop
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", self.port))
        self._sock.listen(64)
        self._sock.settimeout(0.2)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self.accepted = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> HangingServer:
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.accepted += 1
            if self.drop:
                conn.close()
            else:
                self._held.append(conn)  # held open, never read, never answered

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        for conn in self._held:
            conn.close()
        self._sock.close()


def refused(api: APIClient, token: str, guard: float = HANG_GUARD) -> None:
    """Waits until the token is refused as revoked (401 token_revoked); until then it is
    accepted, never anything else."""

    def seen() -> bool:
        response = api.get("/protected", headers=bearer(token))
        if response.status_code == 401:
            assert response.json()["code"] == "token_revoked", response.json()
            return True
        assert response.status_code == 200, response.content
        return False

    until(seen, "the revoked token refused", guard)
