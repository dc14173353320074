"""Races the database must settle: parallel sign-ups of one e-mail, parallel refreshes."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.auth_server.helpers import (
    drain_feed,
    feed_cursor,
    login,
    new_email,
    signup,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

PARALLEL = 8
RACERS = 20


def test_parallel_signups_of_one_email(auth_server: AuthServerProcess) -> None:
    email = new_email()

    def attempt(_: int) -> int:
        with httpx.Client(base_url=auth_server.base_url, timeout=60) as client:
            return signup(client, email).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = Counter(pool.map(attempt, range(PARALLEL)))
    assert statuses == {201: 1, 409: PARALLEL - 1}


def test_parallel_refreshes_of_one_token_leave_at_most_one_chain(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    """Issue 9: 20 parallel refreshes of one token used to give 20 live chains."""
    session = login(client, verified_user(client, smtp_sink))
    sid = unverified_claims(session["accessToken"])["sid"]

    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=auth_server.base_url, timeout=60) as other:
            return other.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})

    with ThreadPoolExecutor(RACERS) as pool:
        responses = list(pool.map(attempt, range(RACERS)))
    # Inside the grace window every racer is a retry: all succeed (no 500, no second
    # family), each rotating the one session again.
    assert [r.status_code for r in responses] == [200] * RACERS
    sids = {unverified_claims(r.json()["data"]["accessToken"])["sid"] for r in responses}
    assert sids == {sid}
    tokens = [r.json()["data"]["refreshToken"] for r in responses]
    assert len(set(tokens)) == RACERS

    # Siblings: only the newest continues; any other is reuse, which ends the session.
    cursor = feed_cursor(client, auth_server)
    outcomes = [client.post("/api/auth/refresh", json={"refreshToken": token}) for token in tokens]
    continued = [r for r in outcomes if r.status_code == 200]
    assert len(continued) <= 1
    assert sum(r.status_code == 401 for r in outcomes) >= RACERS - 1
    events = drain_feed(client, auth_server, cursor)[0]
    assert [(e["sid"], e["reason"]) for e in events if e["sid"] == sid] == [
        (sid, "refresh_token_reuse")
    ]
    # After it, no chain of the session continues.
    for response in continued:
        token = response.json()["data"]["refreshToken"]
        assert client.post("/api/auth/refresh", json={"refreshToken": token}).status_code == 401
