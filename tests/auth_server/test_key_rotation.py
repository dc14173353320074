"""Signing-key rotation without downtime: `python -m auth_server rotate-keys`."""

from __future__ import annotations

import re
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
from tests.support.waiting import until

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

        # The same server process, no restart: it looks at its key folder at most once a
        # second (KEYS_RECHECK_SECONDS), then publishes the new key and signs with it.
        until(
            lambda: len(http.get("/.well-known/jwks.json").json()["keys"]) == 2,
            "the rotated key published",
        )
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


def private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def pem_blocks(text: str) -> list[str]:
    return re.findall(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", text, re.DOTALL)


def test_configured_keys_rotate_in_two_steps(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """Stage (publish the next key), then activate (sign with it): a rolling deploy, one
    replica still on the old key and one already on the new, refuses no token."""
    current = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    shared = {"jwt_issuer": "http://auth.rotation.test", "jwt_private_key": private_pem(current)}
    for name in ("tool", "old", "new"):
        (tmp_path / name).mkdir()
    with temporary_database(tmp_path) as url:
        tool = AuthServerProcess(url, tmp_path / "tool", smtp_sink.port, **shared).migrate()
        # The one-step rotation is refused where replicas are deployed one by one.
        with pytest.raises(RuntimeError, match="--stage"):
            tool.run_command("rotate-keys")
        staged_public, staged_private = pem_blocks(tool.run_command("rotate-keys", "--stage"))
        assert "PUBLIC KEY" in staged_public and "PRIVATE KEY" in staged_private
        staged_file = tmp_path / "staged.pem"
        staged_file.write_text(staged_private)
        # Activating before the key is published everywhere is refused.
        with pytest.raises(RuntimeError, match="stage it first"):
            tool.run_command("rotate-keys", "--activate", str(staged_file))

        # Step 1 rolled out: the old replica publishes the staged key, still signs the old.
        old_replica = AuthServerProcess(
            url, tmp_path / "old", smtp_sink.port, jwt_next_public_keys=staged_public, **shared
        )
        activated = old_replica.run_command("rotate-keys", "--activate", str(staged_file))
        assert public_pem(current.public_key()).strip() in activated
        # Step 2 half rolled out: the new replica signs with the staged key.
        new_replica = AuthServerProcess(
            url,
            tmp_path / "new",
            smtp_sink.port,
            **{
                **shared,
                "jwt_private_key": staged_private,
                "jwt_previous_public_keys": public_pem(current.public_key()),
            },
        )
        old_replica.start()
        new_replica.start()
        try:
            with httpx.Client(base_url=new_replica.base_url, timeout=30) as new_http:
                email = verified_user(new_http, smtp_sink)
                new_token = login(new_http, email)["accessToken"]
            with httpx.Client(base_url=old_replica.base_url, timeout=30) as old_http:
                old_token = login(old_http, email)["accessToken"]
                assert kid(new_token) != kid(old_token)
                jwks = old_http.get("/.well-known/jwks.json").json()
                assert kid(new_token) in {key["kid"] for key in jwks["keys"]}
                # Before staging existed, this was 401: the old replica knew only its key.
                assert old_http.get("/api/auth/me", headers=bearer(new_token)).status_code == 200
            with httpx.Client(base_url=new_replica.base_url, timeout=30) as new_http:
                assert new_http.get("/api/auth/me", headers=bearer(old_token)).status_code == 200
        finally:
            old_replica.stop()
            new_replica.stop()
