"""The SaaS Admin's production server (gunicorn, with saas_admin/gunicorn.conf.py) bounds
request heads itself: an oversized header or too many headers get 431, over a raw socket."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.saas_process import SaasAdminProcess, saas_database


@pytest.fixture(scope="module")
def saas(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SaasAdminProcess]:
    workdir: Path = tmp_path_factory.mktemp("saas-heads")
    with saas_database(workdir) as url:
        process = SaasAdminProcess(url, 1, workdir, "gunicorn").migrate().start()
        try:
            yield process
        finally:
            process.stop()


def test_oversized_header_gets_431(saas: SaasAdminProcess) -> None:
    with socket.create_connection(("127.0.0.1", saas.port), timeout=30) as sock:
        # No end of the head: gunicorn stops reading at 100 fields of 8 KiB (820 KB)
        # and answers without waiting for one.
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 830_000)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    assert received.startswith(b"HTTP/1.1 431 "), received[:200]


def test_too_many_headers_get_431(saas: SaasAdminProcess) -> None:
    headers = [(f"X-Header-{n}", "1") for n in range(150)]
    with httpx.Client(base_url=saas.base_url, timeout=30) as http:
        assert http.get("/health", headers=headers).status_code == 431
        assert http.get("/health", headers=headers[:50]).status_code in (200, 503)
