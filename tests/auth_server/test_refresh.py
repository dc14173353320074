"""Refresh-token rotation, reuse detection with its grace window, and logout."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.auth_server.helpers import bearer, login, unverified_claims, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


def refresh(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/api/auth/refresh", json={"refreshToken": token})


@pytest.fixture(scope="module")
def strict_server(auth_server: AuthServerProcess) -> Iterator[AuthServerProcess]:
    """Same database and keys, REFRESH_REUSE_GRACE=0: any reuse revokes the family."""
    server = AuthServerProcess(
        auth_server.database_url, auth_server.data_dir, refresh_reuse_grace=0
    ).start()
    yield server
    server.stop()


@pytest.fixture
def strict(strict_server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=strict_server.base_url) as http:
        yield http


def test_rotation_keeps_the_session(client: httpx.Client, smtp_sink: SmtpSink) -> None:
    first = login(client, verified_user(client, smtp_sink))
    second = refresh(client, first["refreshToken"]).json()["data"]
    third = refresh(client, second["refreshToken"]).json()["data"]
    assert len({first["refreshToken"], second["refreshToken"], third["refreshToken"]}) == 3
    sids = {unverified_claims(t["accessToken"])["sid"] for t in (first, second, third)}
    assert len(sids) == 1
    assert third["tokenType"] == "Bearer" and third["expiresIn"] == 900
    me = client.get("/api/auth/me", headers=bearer(third["accessToken"]))
    assert me.status_code == 200


def test_reuse_after_rotation_revokes_the_family(
    client: httpx.Client, strict: httpx.Client, smtp_sink: SmtpSink
) -> None:
    first = login(strict, verified_user(client, smtp_sink))
    second = refresh(strict, first["refreshToken"]).json()["data"]
    reused = refresh(strict, first["refreshToken"])
    assert reused.status_code == 401
    assert reused.json()["code"] == "invalid_refresh_token"
    # The thief's and the victim's tokens alike: the whole family is gone.
    assert refresh(strict, second["refreshToken"]).status_code == 401
    for token in (first["accessToken"], second["accessToken"]):
        assert strict.get("/api/auth/me", headers=bearer(token)).status_code == 401


def test_reuse_inside_the_grace_window_is_a_retry(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    first = login(client, verified_user(client, smtp_sink))
    second = refresh(client, first["refreshToken"]).json()["data"]
    retry = refresh(client, first["refreshToken"])
    assert retry.status_code == 200
    retried = retry.json()["data"]
    assert (
        unverified_claims(retried["accessToken"])["sid"]
        == unverified_claims(second["accessToken"])["sid"]
    )
    # Both branches stay usable: the session was not revoked.
    assert refresh(client, second["refreshToken"]).status_code == 200
    assert refresh(client, retried["refreshToken"]).status_code == 200


def test_unknown_refresh_token(client: httpx.Client) -> None:
    response = refresh(client, "x" * 43)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_refresh_token"


def test_logout_is_idempotent_and_ends_only_that_session(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    email = verified_user(client, smtp_sink)
    laptop, phone = login(client, email), login(client, email)
    for _ in range(2):
        out = client.post("/api/auth/logout", json={"refreshToken": laptop["refreshToken"]})
        assert out.status_code == 200
    assert client.get("/api/auth/me", headers=bearer(laptop["accessToken"])).status_code == 401
    assert client.get("/api/auth/me", headers=bearer(phone["accessToken"])).status_code == 200
    unknown = client.post("/api/auth/logout", json={"refreshToken": "never-issued"})
    assert unknown.status_code == 200
