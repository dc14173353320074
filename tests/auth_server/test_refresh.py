"""Refresh-token rotation, reuse detection with its grace window, and logout."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, update

from auth_server.models import AuditEvent, AuthSession, RefreshToken
from auth_server.tokens import hash_opaque_token, new_opaque_token
from tests.auth_server.helpers import (
    bearer,
    database,
    drain_feed,
    feed_cursor,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

GRACE = 10  # REFRESH_REUSE_GRACE of the default server
SESSION_TTL = 120  # REFRESH_TOKEN_TTL of the clocked server below


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


@pytest.fixture(scope="module")
def clocked(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    """A server of this module's own with a movable clock and short sessions."""
    workdir: Path = tmp_path_factory.mktemp("refresh-clocked")
    with clocked_server(workdir, smtp_sink.port, refresh_token_ttl=SESSION_TTL) as running:
        yield running


def sid_of(tokens: dict[str, str]) -> str:
    sid: str = unverified_claims(tokens["accessToken"])["sid"]
    return sid


def reuse_events(client: httpx.Client, server: AuthServerProcess, cursor: str, sid: str) -> int:
    """How many times reuse revoked session `sid` since `cursor` (the revocation feed)."""
    events = drain_feed(client, server, cursor)[0]
    return sum(1 for e in events if e["sid"] == sid and e["reason"] == "refresh_token_reuse")


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


def test_reuse_inside_the_grace_window_is_a_retry_that_supersedes_the_first_answer(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    first = login(client, verified_user(client, smtp_sink))
    lost = refresh(client, first["refreshToken"]).json()["data"]  # the answer never arrived
    retry = refresh(client, first["refreshToken"])
    assert retry.status_code == 200
    retried = retry.json()["data"]
    assert sid_of(retried) == sid_of(lost) == sid_of(first)
    # The retry's answer continues the session...
    cursor = feed_cursor(client, auth_server)
    following = refresh(client, retried["refreshToken"])
    assert following.status_code == 200
    # ... and its sibling from the lost answer is stale: presenting it is reuse, which
    # ends the session (one chain per session, never two).
    assert refresh(client, lost["refreshToken"]).status_code == 401
    assert reuse_events(client, auth_server, cursor, sid_of(first)) == 1
    assert refresh(client, following.json()["data"]["refreshToken"]).status_code == 401


def test_replay_inside_the_grace_window_then_both_successors_later(
    clocked: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """Issue 9: a replay inside the window used to mint a second chain that lived on."""
    server, clock = clocked
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        first = login(http, verified_user(http, smtp_sink))
        one = refresh(http, first["refreshToken"]).json()["data"]
        two = refresh(http, first["refreshToken"]).json()["data"]  # replay, inside the window
        cursor = feed_cursor(http, server)
        try:
            clock.advance(GRACE * 3)
            # The newest successor continues; the older sibling is reuse and ends it all.
            continued = refresh(http, two["refreshToken"])
            assert continued.status_code == 200
            assert refresh(http, one["refreshToken"]).status_code == 401
            assert reuse_events(http, server, cursor, sid_of(first)) == 1
            assert refresh(http, continued.json()["data"]["refreshToken"]).status_code == 401
            assert http.get("/api/auth/me", headers=bearer(two["accessToken"])).status_code == 401
        finally:
            clock.reset()


def test_me_refuses_a_session_past_its_expiry(
    clocked: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """Issue 20: /me ignored the session's expires_at (the access token outlives it here)."""
    server, clock = clocked
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        session = login(http, verified_user(http, smtp_sink))
        assert http.get("/api/auth/me", headers=bearer(session["accessToken"])).status_code == 200
        try:
            clock.advance(SESSION_TTL + 1)  # the access token (15 min) is still unexpired
            me = http.get("/api/auth/me", headers=bearer(session["accessToken"]))
            assert me.status_code == 401 and me.json()["code"] == "invalid_token"
            assert refresh(http, session["refreshToken"]).status_code == 401
        finally:
            clock.reset()


def test_storage_is_one_row_per_session_whatever_the_refreshes(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    """Issue 19: every refresh used to add a refresh_tokens row and an audit row."""
    tokens = login(client, verified_user(client, smtp_sink))
    sid = uuid.UUID(sid_of(tokens))

    def rows() -> tuple[int, int, int]:
        with database(auth_server) as db:
            user_id = db.scalar(select(AuthSession.user_id).where(AuthSession.id == sid))
            sessions = db.scalar(
                select(func.count()).select_from(AuthSession).where(AuthSession.user_id == user_id)
            )
            old_tokens = db.scalar(
                select(func.count()).select_from(RefreshToken).where(RefreshToken.session_id == sid)
            )
            audit = db.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.user_id == user_id)
            )
        return int(sessions or 0), int(old_tokens or 0), int(audit or 0)

    before = rows()
    for _ in range(300):
        response = refresh(client, tokens["refreshToken"])
        assert response.status_code == 200
        tokens = response.json()["data"]
    assert rows() == before
    assert before[:2] == (1, 0)
    assert client.get("/api/auth/me", headers=bearer(tokens["accessToken"])).status_code == 200


def make_legacy(server: AuthServerProcess, sid: uuid.UUID) -> tuple[str, str]:
    """Turns a session into one of the old scheme, as migration 0004 leaves it: the family
    not in the row, its tokens in refresh_tokens (one rotated long ago, one current)."""
    rotated, current = new_opaque_token(), new_opaque_token()
    with database(server) as db:
        db.execute(
            update(AuthSession)
            .where(AuthSession.id == sid)
            .values(family_hash=None, refresh_hash=None, generation=0)
        )
        created = db.scalar(select(AuthSession.created_at).where(AuthSession.id == sid))
        assert created is not None
        db.add_all(
            [
                RefreshToken(
                    session_id=sid,
                    token_hash=hash_opaque_token(rotated),
                    created_at=created - timedelta(hours=2),
                    rotated_at=created - timedelta(hours=1),
                ),
                RefreshToken(
                    session_id=sid, token_hash=hash_opaque_token(current), created_at=created
                ),
            ]
        )
        db.commit()
    return rotated, current


def old_rows(server: AuthServerProcess, sid: uuid.UUID) -> list[tuple[str, bool]]:
    with database(server) as db:
        found = db.execute(
            select(RefreshToken.token_hash, RefreshToken.rotated_at.is_not(None))
            .where(RefreshToken.session_id == sid)
            .order_by(RefreshToken.token_hash)
        ).all()
    return [(digest, bool(spent)) for digest, spent in found]


def test_a_token_of_the_old_scheme_is_accepted_once_and_moves_to_the_new_one(
    client: httpx.Client, strict: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    tokens = login(client, verified_user(client, smtp_sink))
    sid = uuid.UUID(sid_of(tokens))
    _rotated, current = make_legacy(auth_server, sid)
    # The new-scheme token of before is no longer the session's.
    assert refresh(client, tokens["refreshToken"]).status_code == 401

    moved = refresh(client, current)
    assert moved.status_code == 200
    new = moved.json()["data"]
    assert sid_of(new) == str(sid) and "." in new["refreshToken"]
    spent = old_rows(auth_server, sid)
    assert sorted(spent_flag for _, spent_flag in spent) == [True, True]
    # From now on the session row holds the family: refreshes write nothing old.
    for _ in range(3):
        new = refresh(client, new["refreshToken"]).json()["data"]
    assert old_rows(auth_server, sid) == spent
    assert client.get("/api/auth/me", headers=bearer(new["accessToken"])).status_code == 200

    # The old token again, past the grace window (the strict server has none): reuse.
    cursor = feed_cursor(client, auth_server)
    assert refresh(strict, current).status_code == 401
    assert reuse_events(client, auth_server, cursor, str(sid)) == 1
    assert refresh(client, new["refreshToken"]).status_code == 401


def test_an_old_scheme_token_rotated_long_ago_is_reuse(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    tokens = login(client, verified_user(client, smtp_sink))
    sid = uuid.UUID(sid_of(tokens))
    rotated, current = make_legacy(auth_server, sid)
    cursor = feed_cursor(client, auth_server)
    assert refresh(client, rotated).status_code == 401
    assert reuse_events(client, auth_server, cursor, str(sid)) == 1
    assert refresh(client, current).status_code == 401


def test_a_made_up_secret_for_a_known_session_does_not_end_it(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    """The session id is in every access token: knowing it must not let anyone end the
    session. Only a token this session issued (its family secret) counts as reuse."""
    tokens = login(client, verified_user(client, smtp_sink))
    sid = uuid.UUID(sid_of(tokens)).hex
    family = tokens["refreshToken"].split(".")[1]
    for forged in (f"{sid}.{new_opaque_token(16)}.{new_opaque_token()}", f"{sid}.x.y", sid):
        assert refresh(client, forged).status_code == 401
        logout = client.post("/api/auth/logout", json={"refreshToken": forged})
        assert logout.status_code == 200
    assert refresh(client, f"{sid}.{family}").status_code == 401
    assert refresh(client, tokens["refreshToken"]).status_code == 200


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
