from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.auth_server.organization_helpers import Person, person
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink


@pytest.fixture
def client(auth_server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.base_url, timeout=30) as http:
        yield http


# The organization tests' server, one per module: a test clock (to expire invitations), and
# limits high enough for the many sign-ups and invitations of a module. A module may override
# `running` with its own settings; `server`, `clock` and `http` then follow it.
UNLIMITED = {"rate_limit_per_ip": "100000/minute", "invitations_per_user": "1000/hour"}


@pytest.fixture(scope="module")
def running(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[AuthServerProcess, TestClock]]:
    workdir: Path = tmp_path_factory.mktemp("organizations")
    with clocked_server(workdir, smtp_sink.port, **UNLIMITED) as pair:
        yield pair


@pytest.fixture
def server(running: tuple[AuthServerProcess, TestClock]) -> AuthServerProcess:
    return running[0]


@pytest.fixture
def clock(running: tuple[AuthServerProcess, TestClock]) -> Iterator[TestClock]:
    """The module server's clock, back to real time after each test."""
    yield running[1]
    running[1].reset()


@pytest.fixture
def http(server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def owner(http: httpx.Client, smtp_sink: SmtpSink) -> Person:
    return person(http, smtp_sink, company="Invite Corp")
