"""Per-IP and per-account rate limits, login lockout and its expiry, trusted proxies."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.requests import Request

from auth_server.api.deps import client_ip
from tests.auth_server.helpers import PASSWORD, new_email, verified_user
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.lifecycle import REDIS_URL, TestClock, clocked_server, needs_redis, reset_token
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink

LOCKOUT_SECONDS = 900
MAX_FAILURES = 3


@pytest.fixture(scope="module")
def limited(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    """A server behind a "proxy" (127.0.0.1 trusted): each test picks its own client IPs."""
    workdir: Path = tmp_path_factory.mktemp("rate-limits")
    with clocked_server(
        workdir,
        smtp_sink.port,
        trusted_proxies="127.0.0.1",
        rate_limit_per_ip="5/minute",
        rate_limit_per_account="3/hour",
        login_max_failures=MAX_FAILURES,
        login_lockout_seconds=LOCKOUT_SECONDS,
    ) as running:
        yield running


def from_ip(ip: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip}


def attempt(http: httpx.Client, email: str, password: str, ip: str) -> httpx.Response:
    return http.post(
        "/api/auth/login", json={"email": email, "password": password}, headers=from_ip(ip)
    )


def test_per_ip_limit_with_retry_after(limited: tuple[AuthServerProcess, TestClock]) -> None:
    server, _clock = limited
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        for _ in range(5):
            ok = http.post(
                "/api/auth/resend-verification",
                json={"email": new_email()},
                headers=from_ip("198.51.100.1"),
            )
            assert ok.status_code == 200
        limited_response = http.post(
            "/api/auth/resend-verification",
            json={"email": new_email()},
            headers=from_ip("198.51.100.1"),
        )
        assert limited_response.status_code == 429
        assert limited_response.json()["code"] == "rate_limited"
        assert 1 <= int(limited_response.headers["Retry-After"]) <= 60
        # Another client (as the trusted proxy reports it) has its own budget.
        other = http.post(
            "/api/auth/resend-verification",
            json={"email": new_email()},
            headers=from_ip("198.51.100.2"),
        )
        assert other.status_code == 200


def test_per_account_limit_hides_whether_the_account_exists(
    limited: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """Per e-mail address across client addresses (forgot-password counts per client
    address and account instead: see test_reset_requests.py)."""
    server, _clock = limited
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        existing = verified_user(http, smtp_sink, products=[])
        answers = {}
        for email in (existing, new_email()):
            for n in range(3):
                response = http.post(
                    "/api/auth/resend-verification",
                    json={"email": email},
                    headers=from_ip(f"198.51.100.{10 + n}"),
                )
                assert response.status_code == 200
            answers[email] = http.post(
                "/api/auth/resend-verification",
                json={"email": email},
                headers=from_ip("198.51.100.20"),
            )
        first, second = answers.values()
        assert first.status_code == second.status_code == 429
        assert first.json() == second.json()


def test_lockout_after_failures_and_its_expiry(
    limited: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    server, clock = limited
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink, products=[])
        unknown = new_email()
        locked = {}
        for target in (email, unknown):
            # Each failure from another IP: the lock is per account, whatever the IP.
            for n in range(MAX_FAILURES - 1):
                wrong = attempt(http, target, "wrong password!", f"203.0.113.{n + 1}")
                assert wrong.status_code == 401
            locked[target] = attempt(http, target, "wrong password!", "203.0.113.50")
            assert locked[target].status_code == 429
        # Unknown addresses are locked the same way: the lock tells nothing.
        assert locked[email].json() == locked[unknown].json()
        assert locked[email].json()["code"] == "rate_limited"

        try:
            clock.advance(LOCKOUT_SECONDS - 60)
            # The right password is refused too while the lock lasts.
            still = attempt(http, email, PASSWORD, "203.0.113.60")
            assert still.status_code == 429
            assert 1 <= int(still.headers["Retry-After"]) <= 60
            assert attempt(http, unknown, PASSWORD, "203.0.113.60").json() == still.json()

            clock.advance(61)
            assert attempt(http, email, PASSWORD, "203.0.113.61").status_code == 200
            assert attempt(http, unknown, PASSWORD, "203.0.113.61").status_code == 401
        finally:
            clock.reset()


def test_success_costs_no_attempt_and_failures_end_with_their_window(
    limited: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """A right password refunds its attempt; the wrong ones count until their window ends
    (a success does not wipe them: a parallel guess could otherwise slip in after it)."""
    server, clock = limited
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink, products=[])
        try:
            for n in range(MAX_FAILURES - 1):
                assert attempt(http, email, "wrong password!", f"203.0.114.{n}").status_code == 401
            for n in range(3):
                assert attempt(http, email, PASSWORD, f"203.0.114.{n + 100}").status_code == 200
            assert attempt(http, email, "wrong password!", "203.0.114.50").status_code == 429
            clock.advance(LOCKOUT_SECONDS + 1)
            # A new window after the lock: the budget is whole again.
            for n in range(MAX_FAILURES - 1):
                assert attempt(http, email, "wrong password!", f"203.0.114.{n}").status_code == 401
            clock.advance(LOCKOUT_SECONDS + 1)
            for n in range(MAX_FAILURES - 1):
                assert attempt(http, email, "wrong password!", f"203.0.114.{n}").status_code == 401
            assert attempt(http, email, PASSWORD, "203.0.114.99").status_code == 200
        finally:
            clock.reset()


def _request(peer: str, forwarded: str | None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        # No trusted proxy in front: the header is the client's own claim, ignored.
        ("192.0.2.9", "1.2.3.4", "192.0.2.9"),
        # Through our proxy: the address it appended.
        ("10.0.0.5", "1.2.3.4", "1.2.3.4"),
        # A client-written entry to the left of what the proxy appended is ignored.
        ("10.0.0.5", "6.6.6.6, 1.2.3.4", "1.2.3.4"),
        # Two of our proxies in a row are skipped.
        ("10.0.0.5", "1.2.3.4, 10.0.0.7", "1.2.3.4"),
        # Garbage stops the walk at the last address we can believe.
        ("10.0.0.5", "1.2.3.4, not-an-ip", "10.0.0.5"),
        ("10.0.0.5", None, "10.0.0.5"),
    ],
)
def test_forwarded_for_only_from_trusted_proxies(
    peer: str, forwarded: str | None, expected: str
) -> None:
    trusted = [ipaddress.ip_network("10.0.0.0/8")]
    assert client_ip(_request(peer, forwarded), trusted) == expected


def test_spoofed_forwarded_for_is_ignored_without_trusted_proxies(
    client: httpx.Client, smtp_sink: SmtpSink
) -> None:
    """The default server trusts no proxy: a session records the real peer."""
    email = verified_user(client, smtp_sink)
    response = client.post(
        "/api/auth/login",
        json={"email": email, "password": PASSWORD},
        headers=from_ip("6.6.6.6"),
    )
    token = response.json()["data"]["accessToken"]
    sessions = client.get("/api/auth/sessions", headers={"Authorization": f"Bearer {token}"})
    assert sessions.json()["data"]["sessions"][0]["ipAddress"] == "127.0.0.1"


@needs_redis("counters shared through Redis need a Redis server")
def test_counters_are_shared_between_two_servers_on_one_redis(
    smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    redis_url = REDIS_URL
    settings = {
        "redis_url": redis_url,
        # Both replicas on the same counters; fresh for this run so runs never collide.
        "rate_limit_key_prefix": f"test-shared-{tmp_path.name}-{new_email()}",
        "rate_limit_per_ip": "4/minute",
        "login_max_failures": 3,
        "trusted_proxies": "127.0.0.1",
    }
    with temporary_database(tmp_path) as url:
        # One database and one key folder: two replicas of one deployment.
        first = AuthServerProcess(url, tmp_path, smtp_sink.port, **settings).migrate()
        second = AuthServerProcess(url, tmp_path, smtp_sink.port, **settings)
        first.start()
        second.start()
        try:
            with (
                httpx.Client(base_url=first.base_url, timeout=30) as a,
                httpx.Client(base_url=second.base_url, timeout=30) as b,
            ):
                # Per IP: 4 requests spread over both servers use up one shared budget.
                for http in (a, b, a, b):
                    ok = http.post(
                        "/api/auth/resend-verification",
                        json={"email": new_email()},
                        headers=from_ip("192.0.2.1"),
                    )
                    assert ok.status_code == 200
                for http in (a, b):
                    refused = http.post(
                        "/api/auth/resend-verification",
                        json={"email": new_email()},
                        headers=from_ip("192.0.2.1"),
                    )
                    assert refused.status_code == 429

                # Login failures: 2 on one server and 1 on the other lock the account.
                email = verified_user(a, smtp_sink, products=[])
                for n, http in enumerate((a, b)):
                    assert (
                        attempt(http, email, "wrong password!", f"192.0.2.{10 + n}").status_code
                        == 401
                    )
                assert attempt(a, email, "wrong password!", "192.0.2.20").status_code == 429
                assert attempt(b, email, PASSWORD, "192.0.2.21").status_code == 429
        finally:
            first.stop()
            second.stop()


def test_a_redis_outage_fails_open_never_500(smtp_sink: SmtpSink, tmp_path: Path) -> None:
    """Counters unreachable: requests are served (and the outage logged), never a 500."""
    dead_redis = f"redis://127.0.0.1:{free_port()}/0"
    with temporary_database(tmp_path) as url:
        server = AuthServerProcess(url, tmp_path, smtp_sink.port, redis_url=dead_redis)
        server.migrate().start()
        try:
            body = {"email": new_email(), "password": "wrong password!"}
            response = httpx.post(f"{server.base_url}/api/auth/login", json=body, timeout=30)
            assert response.status_code == 401
        finally:
            server.stop()
        assert "Rate-limit storage unavailable" in server.log()


def test_a_password_reset_lifts_the_lock(
    limited: tuple[AuthServerProcess, TestClock], smtp_sink: SmtpSink
) -> None:
    """Someone guessing can lock an account; its owner, who reads the mail, gets back in."""
    server, _clock = limited
    new_password = "the owner's new passphrase"
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        email = verified_user(http, smtp_sink, products=[])
        for n in range(MAX_FAILURES):
            attempt(http, email, "wrong password!", f"203.0.115.{n}")
        assert attempt(http, email, PASSWORD, "203.0.115.50").status_code == 429
        http.post("/api/auth/forgot-password", json={"email": email})
        token = reset_token(smtp_sink.wait_for(email, count=2))
        reset = http.post(
            "/api/auth/reset-password", json={"token": token, "password": new_password}
        )
        assert reset.status_code == 200
        assert attempt(http, email, new_password, "203.0.115.51").status_code == 200
