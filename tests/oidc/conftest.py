"""One auth server for the provider's tests, with a movable clock (expired codes)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth_server.helpers import verified_user
from tests.oidc.support import Browser
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink


@pytest.fixture(scope="module")
def provider(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("oidc")
    with clocked_server(workdir, smtp_sink.port, rate_limit_per_ip="100000/minute") as running:
        yield running


@pytest.fixture
def server(provider: tuple[AuthServerProcess, TestClock]) -> Iterator[AuthServerProcess]:
    server, clock = provider
    yield server
    clock.reset()


@pytest.fixture
def clock(provider: tuple[AuthServerProcess, TestClock]) -> TestClock:
    return provider[1]


@pytest.fixture
def email(server: AuthServerProcess, smtp_sink: SmtpSink) -> str:
    """A new verified account."""
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        return verified_user(http, smtp_sink)


@pytest.fixture
def browser(server: AuthServerProcess) -> Iterator[Browser]:
    browser = Browser(server)
    yield browser
    browser.close()
