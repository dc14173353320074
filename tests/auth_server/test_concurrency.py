"""Races the database must settle: parallel sign-ups of one e-mail, parallel refreshes."""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.auth_server.helpers import login, new_email, signup, unverified_claims, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink

PARALLEL = 8


def test_parallel_signups_of_one_email(auth_server: AuthServerProcess) -> None:
    email = new_email()

    def attempt(_: int) -> int:
        with httpx.Client(base_url=auth_server.base_url, timeout=60) as client:
            return signup(client, email).status_code

    with ThreadPoolExecutor(PARALLEL) as pool:
        statuses = Counter(pool.map(attempt, range(PARALLEL)))
    assert statuses == {201: 1, 409: PARALLEL - 1}


def test_parallel_refreshes_of_one_token(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    session = login(client, verified_user(client, smtp_sink))

    def attempt(_: int) -> httpx.Response:
        with httpx.Client(base_url=auth_server.base_url, timeout=60) as other:
            return other.post("/api/auth/refresh", json={"refreshToken": session["refreshToken"]})

    with ThreadPoolExecutor(PARALLEL) as pool:
        responses = list(pool.map(attempt, range(PARALLEL)))
    # Inside the grace window every racer is a retry: all succeed, in the one family.
    assert [r.status_code for r in responses] == [200] * PARALLEL
    sids = {unverified_claims(r.json()["data"]["accessToken"])["sid"] for r in responses}
    assert sids == {unverified_claims(session["accessToken"])["sid"]}
    tokens = {r.json()["data"]["refreshToken"] for r in responses}
    assert len(tokens) == PARALLEL
    for token in tokens:
        assert client.post("/api/auth/refresh", json={"refreshToken": token}).status_code == 200
