"""Small helpers for talking to the auth server under test."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey
from sqlalchemy import update
from sqlalchemy.orm import Session

from auth_server.db import make_engine
from auth_server.keys import key_id
from auth_server.models import User
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink, verification_code

PASSWORD = "correct-horse-battery-staple"


def new_email() -> str:
    return f"user-{uuid.uuid4().hex[:12]}@example.com"


def signup(client: httpx.Client, address: str, **overrides: Any) -> httpx.Response:
    body = {
        "email": address,
        "password": PASSWORD,
        "firstName": "Ann",
        "lastName": "Bee",
        "company": "Acme Ltd",
        "products": ["teamspace"],
        **overrides,
    }
    return client.post("/api/auth/signup", json=body)


def verified_user(client: httpx.Client, smtp: SmtpSink, **overrides: Any) -> str:
    """Sign up and verify with the code read from the delivered e-mail; returns the e-mail."""
    email = new_email()
    assert signup(client, email, **overrides).status_code == 201
    code = verification_code(smtp.wait_for(email))
    response = client.post("/api/auth/verify-email", json={"email": email, "code": code})
    assert response.status_code == 200, response.text
    return email


def login(client: httpx.Client, email: str, password: str = PASSWORD) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"email": email, "password": password})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@contextmanager
def database(server: AuthServerProcess) -> Iterator[Session]:
    """A session on the server's own database, to arrange states no endpoint makes."""
    engine = make_engine(server.database_url)
    try:
        with Session(engine) as session:
            yield session
    finally:
        engine.dispose()


def set_user_fields(server: AuthServerProcess, email: str, **values: Any) -> None:
    with database(server) as db:
        db.execute(update(User).where(User.email == email).values(**values))
        db.commit()


def signing_key(server: AuthServerProcess) -> tuple[RSAPrivateKey, str]:
    """The server's current development signing key and its kid, to mint test tokens."""
    newest = sorted((server.data_dir / "keys").glob("*.pem"))[-1]
    key = serialization.load_pem_private_key(newest.read_bytes(), password=None)
    assert isinstance(key, RSAPrivateKey)
    return key, key_id(key.public_key())


def unverified_claims(token: str) -> dict[str, Any]:
    claims: dict[str, Any] = jwt.decode(token, options={"verify_signature": False})
    return claims


def feed_page(
    client: httpx.Client, server: AuthServerProcess, since: str | int = 0, limit: int | None = None
) -> dict[str, Any]:
    """One page of GET /api/auth/revocations, as a trusted service reads it."""
    params: dict[str, Any] = {"since": since}
    if limit is not None:
        params["limit"] = limit
    response = client.get(
        f"{server.base_url}/api/auth/revocations", params=params, headers=server.service_headers()
    )
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()["data"]
    return page


def drain_feed(
    client: httpx.Client, server: AuthServerProcess, since: str | int = 0, limit: int | None = None
) -> tuple[list[dict[str, Any]], str]:
    """Every live event after `since`, page by page; and the cursor to continue from."""
    events: list[dict[str, Any]] = []
    cursor = str(since)
    while True:
        page = feed_page(client, server, cursor, limit)
        events.extend(page["events"])
        cursor = page["cursor"]
        if not page["hasMore"]:
            return events, cursor


def feed_cursor(client: httpx.Client, server: AuthServerProcess) -> str:
    """The feed's current end: events after it are the ones a test is about to cause."""
    return drain_feed(client, server)[1]
