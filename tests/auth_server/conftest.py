from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.auth_process import AuthServerProcess


@pytest.fixture
def client(auth_server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.base_url, timeout=30) as http:
        yield http
