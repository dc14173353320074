"""Outages: a stopped auth server and one that accepts connections but never answers.
503 with Retry-After, never 401; the circuit breaker opens and closes."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth.breaker import CircuitBreaker, CircuitOpen
from rozitech_auth.client import AuthServerClient, get_auth_client
from rozitech_auth.errors import AuthServerUnavailable

from tests.saas_admin.helpers import Account, HangingServer, bearer, new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.smtp import SmtpSink

pytestmark = pytest.mark.django_db

COOLDOWN = 0.5


@pytest.fixture
def own_server(smtp_sink: SmtpSink, tmp_path: Path) -> Iterator[AuthServerProcess]:
    """An auth server of this test's own, which it may stop (never the shared one)."""
    with temporary_database(tmp_path) as database_url:
        server = AuthServerProcess(database_url, tmp_path, smtp_port=smtp_sink.port)
        server.migrate().start()
        yield server
        server.stop()


@pytest.fixture
def hanging() -> Iterator[HangingServer]:
    server = HangingServer().start()
    yield server
    server.stop()


def assert_503(response: object) -> None:
    assert getattr(response, "status_code", None) == 503
    retry_after = response["Retry-After"]  # type: ignore[index]
    assert retry_after.isdigit() and int(retry_after) >= 1
    assert "WWW-Authenticate" not in response  # type: ignore[operator]


@pytest.mark.parametrize("view", ["/protected", "/optional"])
def test_a_stopped_server_gives_503_then_the_breaker_opens_and_closes(
    view: str, settings: Settings, api: APIClient, own_server: AuthServerProcess,
    smtp_sink: SmtpSink,
) -> None:  # fmt: skip
    account: Account = new_account(own_server, smtp_sink)
    settings.AUTH_SERVICE_URL = own_server.base_url
    settings.AUTH_JWT_ISSUER = own_server.base_url
    settings.AUTH_CIRCUIT_BREAKER_THRESHOLD = 2
    settings.AUTH_CIRCUIT_BREAKER_COOLDOWN = COOLDOWN
    own_server.stop()

    # Connection refused: 503 + Retry-After, never 401 (that would log the user out), and
    # never anonymous for the optional class either.
    assert_503(api.get(view, headers=bearer(account.access_token)))
    assert get_auth_client().breaker.state == "closed"
    assert_503(api.get(view, headers=bearer(account.access_token)))
    assert get_auth_client().breaker.state == "open"
    assert_503(api.get(view, headers=bearer(account.access_token)))  # fails fast while open

    own_server.start()
    time.sleep(COOLDOWN + 0.1)
    assert get_auth_client().breaker.state == "half-open"
    response = api.get(view, headers=bearer(account.access_token))
    assert response.status_code == 200
    assert response.json()["authUserId"] == account.user_id
    assert get_auth_client().breaker.state == "closed"


def test_local_mode_needs_the_server_only_for_the_keys(
    settings: Settings, api: APIClient, own_server: AuthServerProcess, smtp_sink: SmtpSink
) -> None:
    account = new_account(own_server, smtp_sink)
    other = new_account(own_server, smtp_sink)
    settings.AUTH_SERVICE_URL = own_server.base_url
    settings.AUTH_JWT_ISSUER = own_server.base_url
    settings.AUTH_VERIFY_MODE = "local"
    assert api.get("/protected", headers=bearer(account.access_token)).status_code == 200
    own_server.stop()
    # Keys already known: tokens still verify, even one never seen before.
    assert api.get("/protected", headers=bearer(other.access_token)).status_code == 200
    # A process that has no keys yet and cannot fetch them: 503, not 401.
    settings.AUTH_JWKS_LIFESPAN = 301  # a settings change: a fresh process state
    assert_503(api.get("/protected", headers=bearer(account.access_token)))


def test_a_hanging_server_times_out_into_503_and_the_breaker_stops_waiting(
    settings: Settings, api: APIClient, account: Account, hanging: HangingServer
) -> None:
    settings.AUTH_SERVICE_URL = hanging.base_url
    settings.AUTH_SERVICE_TIMEOUT = 0.5
    settings.AUTH_CIRCUIT_BREAKER_THRESHOLD = 2
    settings.AUTH_CIRCUIT_BREAKER_COOLDOWN = 30
    assert_503(api.get("/protected", headers=bearer(account.access_token)))
    assert_503(api.get("/protected", headers=bearer(account.access_token)))
    assert hanging.accepted == 2
    # Open: the third request fails at once, without even connecting.
    response = api.get("/protected", headers=bearer(account.access_token))
    assert_503(response)
    assert int(response["Retry-After"]) > 1  # the rest of the 30-second cool-down
    assert hanging.accepted == 2


def test_client_methods_raise_unavailable_not_authentication_failed(
    hanging: HangingServer,
) -> None:
    client = AuthServerClient(hanging.base_url, timeout=0.3)
    calls: list[Callable[[], object]] = [
        lambda: client.login("a@example.com", "a long passphrase"),
        lambda: client.verify_token("a.b.c"),
        lambda: client.refresh_token("r"),
    ]
    for call in calls:
        with pytest.raises(AuthServerUnavailable) as exc:
            call()
        assert exc.value.code == "auth_service_unavailable"
        assert exc.value.retry_after >= 1
    assert client.health_check()["status"] == "unreachable"


class FakeClock:
    def __init__(self) -> None:
        self.value = 1000.0

    def __call__(self) -> float:
        return self.value


def test_breaker_state_machine() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(threshold=3, cooldown=10, clock=clock)
    for _ in range(2):
        breaker.before_call()
        breaker.record_failure()
    breaker.before_call()
    breaker.record_success()  # a success resets the count
    for _ in range(3):
        breaker.before_call()
        breaker.record_failure()
    assert breaker.state == "open"
    with pytest.raises(CircuitOpen) as exc:
        breaker.before_call()
    assert exc.value.retry_after == pytest.approx(10)
    clock.value += 10
    assert breaker.state == "half-open"
    breaker.before_call()  # the one trial
    with pytest.raises(CircuitOpen):
        breaker.before_call()  # everyone else waits for it
    breaker.record_failure()  # the trial failed: open again for a full cool-down
    assert breaker.state == "open"
    clock.value += 10
    breaker.before_call()
    breaker.record_success()
    assert breaker.state == "closed"
    breaker.before_call()
