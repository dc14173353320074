"""Issue 20: replicas whose host clocks disagree by a few seconds, on one database.

Each replica's own clock is moved with TEST_CLOCK_SKEW (the test clock's per-replica skew;
database time is not moved). A token's `iat` and a revocation's `issuedBefore` come from
the database's clock, so they agree across replicas; a verifier compares `iat` with its own
clock, with JWT_IAT_SKEW seconds of allowance.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    drain_feed,
    feed_cursor,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import reset_token
from tests.support.smtp import SmtpSink

NEW_PASSWORD = "a brand new passphrase"


def replica(auth_server: AuthServerProcess, smtp: SmtpSink, **settings: Any) -> AuthServerProcess:
    """Another replica of the session's server: same database, keys, issuer and service
    token."""
    return AuthServerProcess(
        auth_server.database_url,
        auth_server.data_dir,
        smtp.port,
        service_token=auth_server.service_token,
        jwt_issuer=auth_server.base_url,
        **settings,
    ).start()


@pytest.fixture(scope="module")
def replicas(
    auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> Iterator[dict[str, AuthServerProcess]]:
    running = {
        "ahead": replica(auth_server, smtp_sink, test_clock_skew=3),
        "behind": replica(auth_server, smtp_sink, test_clock_skew=-3),
        # No allowance for `iat`, and far behind: the control for the allowance.
        "strict": replica(auth_server, smtp_sink, test_clock_skew=-30, jwt_iat_skew=0),
    }
    yield running
    for server in running.values():
        server.stop()


def me(server: AuthServerProcess, tokens: dict[str, Any]) -> int:
    response = httpx.get(
        f"{server.base_url}/api/auth/me", headers=bearer(tokens["accessToken"]), timeout=30
    )
    return response.status_code


def test_a_token_from_a_replica_ahead_is_accepted_by_one_behind(
    replicas: dict[str, AuthServerProcess], auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    ahead, behind = replicas["ahead"], replicas["behind"]
    with httpx.Client(base_url=ahead.base_url, timeout=30) as http:
        tokens = login(http, verified_user(http, smtp_sink))
    assert me(behind, tokens) == 200
    assert me(auth_server, tokens) == 200
    refreshed = httpx.post(
        f"{behind.base_url}/api/auth/refresh",
        json={"refreshToken": tokens["refreshToken"]},
        timeout=30,
    )
    assert refreshed.status_code == 200
    assert me(ahead, refreshed.json()["data"]) == 200
    # Without the allowance, a verifier whose clock is behind the issuer's refuses it.
    assert me(replicas["strict"], tokens) == 401


def test_a_token_issued_after_a_reset_by_a_replica_behind_is_not_revoked(
    replicas: dict[str, AuthServerProcess], auth_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    ahead, behind = replicas["ahead"], replicas["behind"]
    with httpx.Client(base_url=ahead.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink)
        assert http.post("/api/auth/forgot-password", json={"email": email}).status_code == 200
        token = reset_token(smtp_sink.wait_for(email, count=2))
        cursor = feed_cursor(http, ahead)
        body = {"token": token, "password": NEW_PASSWORD}
        assert http.post("/api/auth/reset-password", json=body).status_code == 200
        events = drain_feed(http, ahead, cursor)[0]
    cutoff = next(e["issuedBefore"] for e in events if e["type"] == "user")
    with httpx.Client(base_url=behind.base_url, timeout=30) as http:
        assert (
            http.post("/api/auth/login", json={"email": email, "password": PASSWORD}).status_code
            == 401
        )
        tokens = login(http, email, NEW_PASSWORD)
    # A verifier refuses a token of the user whose `iat` is below the cutoff: this one is
    # not, though the replica that issued it runs 6 s behind the one that reset.
    assert unverified_claims(tokens["accessToken"])["iat"] >= cutoff
    for server in (ahead, behind, auth_server):
        assert me(server, tokens) == 200
