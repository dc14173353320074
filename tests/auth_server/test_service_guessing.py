"""Guessing the service credential: once an address has sent too many wrong tokens, every
request with a service token from it gets 429, the right token too, so a guess can never
be confirmed inside the window. Through real client addresses (127.0.0.x)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth_process import AuthServerProcess
from tests.support.clients import client_from
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

BUDGET = 5
FEED = "/api/auth/revocations"


@pytest.fixture(scope="module")
def server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("service-guessing")
    with clocked_server(workdir, smtp_sink.port, rate_limit_per_ip=f"{BUDGET}/minute") as running:
        yield running


def test_a_right_token_after_too_many_wrong_ones_gets_429(
    server: tuple[AuthServerProcess, TestClock],
) -> None:
    running, _clock = server
    right = running.service_headers()
    with client_from(running.base_url, "127.0.0.2") as guesser:
        # A trusted service's own traffic never spends the budget.
        for _ in range(BUDGET + 2):
            assert guesser.get(FEED, headers=right).status_code == 200
        wrong = [
            guesser.get(FEED, headers={"X-Service-Token": f"guess-{n}"}) for n in range(BUDGET)
        ]
        assert [r.status_code for r in wrong] == [401] * BUDGET
        assert guesser.get(FEED, headers={"X-Service-Token": "one more"}).status_code == 429
        # Before the fix the right token still passed here, confirming a lucky guess.
        blocked = guesser.get(FEED, headers=right)
        assert blocked.status_code == 429
        assert blocked.json()["code"] == "rate_limited"
        assert 1 <= int(blocked.headers["Retry-After"]) <= 60
    with client_from(running.base_url, "127.0.0.3") as service:
        # Another address is not affected.
        assert service.get(FEED, headers=right).status_code == 200
