"""Signing-key rotation without downtime: `python -m auth_server rotate-keys`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.auth_server.helpers import bearer, login, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

ACCESS_TOKEN_TTL = 300


@pytest.fixture(scope="module")
def rotating(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("key-rotation")
    with clocked_server(workdir, smtp_sink.port, access_token_ttl=ACCESS_TOKEN_TTL) as running:
        yield running


def kid(token: str) -> str:
    return str(jwt.get_unverified_header(token)["kid"])


def verify_with_jwks(token: str, jwks: dict[str, object], audience: str, issuer: str) -> None:
    key = jwt.PyJWKSet.from_dict(jwks)[kid(token)]
    jwt.decode(token, key, algorithms=["RS256"], audience=audience, issuer=issuer)


def test_rotation_keeps_old_tokens_valid_until_they_expire(
    rotating: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = rotating
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
        before = login(http, email)
        old_kid = kid(before["accessToken"])

        output = server.run_command("rotate-keys")
        assert old_kid in output

        # The same server process, no restart: new tokens carry the new key's kid.
        after = login(http, email)
        new_kid = kid(after["accessToken"])
        assert new_kid != old_kid and new_kid in output
        refreshed = http.post("/api/auth/refresh", json={"refreshToken": before["refreshToken"]})
        assert kid(refreshed.json()["data"]["accessToken"]) == new_kid

        jwks = http.get("/.well-known/jwks.json").json()
        assert {key["kid"] for key in jwks["keys"]} == {old_kid, new_kid}
        discovery = http.get("/.well-known/openid-configuration").json()
        for token in (before["accessToken"], after["accessToken"]):
            # A verifier holding the JWKS accepts both, and so does the server itself.
            verify_with_jwks(token, jwks, discovery["audience"], discovery["issuer"])
            assert http.get("/api/auth/me", headers=bearer(token)).status_code == 200

        try:
            # Once every token the old key signed has expired, it leaves the JWKS.
            clock.advance(ACCESS_TOKEN_TTL + 61)
            jwks = http.get("/.well-known/jwks.json").json()
            assert [key["kid"] for key in jwks["keys"]] == [new_kid]
            stale = http.get("/api/auth/me", headers=bearer(before["accessToken"]))
            assert stale.status_code == 401
        finally:
            clock.reset()

        events = server.run_command("audit", "--event", "key_rotated")
        assert f"old_kid={old_kid}" in events and f"new_kid={new_kid}" in events


def test_rotation_with_a_configured_key_prints_what_to_deploy(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    current = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = current.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(url, tmp_path, smtp_sink.port, jwt_private_key=pem).migrate()
        output = server.run_command("rotate-keys")
    assert "-----BEGIN PRIVATE KEY-----" in output
    old_public = current.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    assert old_public.decode().strip() in output
    # Nothing was written to disk: the deployment owns the keys.
    assert not (tmp_path / "keys").exists()
