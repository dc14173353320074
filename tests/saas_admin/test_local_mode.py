"""Local verification: pinned algorithm, issuer, audience, expiry; JWKS refetch on rotation."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth.django import authentication
from rozitech_auth.tokens import LocalVerifier

from auth_server.keys import write_key_file
from tests.saas_admin.helpers import Account, bearer, new_account, now, remint, signing_key
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_mode(settings: Settings) -> None:
    settings.AUTH_VERIFY_MODE = "local"


def get(api: APIClient, token: str) -> int:
    return int(api.get("/protected", headers=bearer(token)).status_code)


def verifier() -> LocalVerifier:
    found = authentication._state.verifiers["local"]
    assert isinstance(found, LocalVerifier)
    return found


def test_claims_the_server_signed_but_we_do_not_expect_are_refused(
    api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    token = account.access_token
    assert get(api, token) == 200
    assert get(api, remint(auth_server, token, aud="another-service")) == 401
    assert get(api, remint(auth_server, token, iss="https://evil.example")) == 401
    assert get(api, remint(auth_server, token, exp=now() - 1)) == 401
    assert get(api, remint(auth_server, token, exp=None)) == 401  # exp is required
    assert get(api, remint(auth_server, token, sub="not-a-uuid")) == 401


def test_algorithm_confusion_and_none_are_refused(
    api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    header = jwt.get_unverified_header(account.access_token)
    public_pem = (
        signing_key(auth_server)
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    # HS256 "signed" with the public key as the HMAC secret. PyJWT refuses to do this
    # itself, so the signature is built by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    signing_input = (
        b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": header["kid"]}).encode())
        + "."
        + b64(json.dumps(claims).encode())
    )
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    assert get(api, f"{signing_input}.{b64(mac)}") == 401
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": header["kid"]})
    assert get(api, unsigned) == 401


def test_a_token_signed_by_another_key_with_a_known_kid_is_refused(
    api: APIClient, account: Account
) -> None:
    claims = jwt.decode(account.access_token, options={"verify_signature": False})
    kid = jwt.get_unverified_header(account.access_token)["kid"]
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert get(api, jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": kid})) == 401


def test_no_network_call_per_request(
    api: APIClient, account: Account, other_account: Account
) -> None:
    assert get(api, account.access_token) == 200
    assert get(api, other_account.access_token) == 200
    assert get(api, account.access_token) == 200
    assert verifier().keys.fetches == 1


@pytest.fixture
def rotating_server(smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[AuthServerProcess]:
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(database_url, tmp_path, smtp_port=smtp_sink.port)
        server.migrate().start()
        yield server
        server.stop()


def test_an_unknown_kid_refetches_the_jwks_once_and_rate_limited(
    settings: Settings, api: APIClient, rotating_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    settings.AUTH_SERVICE_URL = rotating_server.base_url
    settings.AUTH_JWT_ISSUER = rotating_server.base_url
    settings.AUTH_JWKS_REFETCH_COOLDOWN = 0.5
    before = new_account(rotating_server, smtp_sink)
    assert get(api, before.access_token) == 200
    assert verifier().keys.fetches == 1

    # Made now: its generation must not eat into the cool-down the flood below relies on.
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    # Key rotation: a new signer; the old key stays published for the tokens it signed.
    rotating_server.stop()
    write_key_file(rotating_server.data_dir / "keys")
    rotating_server.start()
    time.sleep(0.6)  # past the refetch cool-down that the first fetch started
    after = new_account(rotating_server, smtp_sink)
    assert (
        jwt.get_unverified_header(after.access_token)["kid"]
        != jwt.get_unverified_header(before.access_token)["kid"]
    )
    assert get(api, after.access_token) == 200
    assert verifier().keys.fetches == 2
    assert get(api, before.access_token) == 200

    # A flood of unknown kids right after: no fetch during the cool-down, 503 + Retry-After
    # (it might be a key rotated a moment ago: 401 would log its users out).
    claims = jwt.decode(after.access_token, options={"verify_signature": False})
    for n in range(5):
        forged = jwt.encode(claims, stranger, algorithm="RS256", headers={"kid": f"forged-{n}"})
        response = api.get("/protected", headers=bearer(forged))
        assert response.status_code == 503
        assert int(response["Retry-After"]) >= 1
    assert verifier().keys.fetches == 2
    time.sleep(0.6)
    # After the cool-down: one refetch, and a kid that is still unknown is a plain 401.
    assert get(api, forged) == 401
    assert verifier().keys.fetches == 3
