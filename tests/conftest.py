"""Fixtures shared by the whole suite: a real SMTP sink and a real auth server process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.auth_process import AuthServerProcess
from tests.support.databases import temporary_database
from tests.support.redis_process import RedisProcess
from tests.support.smtp import SmtpSink


@pytest.fixture(scope="session")
def smtp_sink() -> Iterator[SmtpSink]:
    sink = SmtpSink().start()
    yield sink
    sink.stop()


@pytest.fixture(scope="session")
def auth_server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServerProcess]:
    """The auth server with its default settings, started once for the session.

    Its service credential: `auth_server.service_token` (or `auth_server.service_headers()`);
    its revocation channel: `auth_server.revocation_channel`.
    """
    workdir: Path = tmp_path_factory.mktemp("auth-server")
    with temporary_database(workdir) as database_url:
        server = AuthServerProcess(database_url, workdir, smtp_port=smtp_sink.port)
        server.migrate().start()
        yield server
        server.stop()


@pytest.fixture
def own_redis() -> Iterator[RedisProcess]:
    """A redis-server of the test's own (tests that use it are marked needs_redis_server)."""
    server = RedisProcess().start()
    yield server
    server.stop()
