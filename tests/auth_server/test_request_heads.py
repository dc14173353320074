"""Request heads are bounded by the server process itself, over a raw socket: an oversized
header gets 431 and is never buffered, too many headers get 431, other clients go on."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx

from tests.support.auth_process import AuthServerProcess

# The default MAX_HEADER_BYTES is 16 KiB.
LIMIT = 16 * 1024
HEAD = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: "


def connect(server: AuthServerProcess) -> socket.socket:
    return socket.create_connection(("127.0.0.1", server.port), timeout=30)


def answer_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def resident_kib(server: AuthServerProcess) -> int:
    assert server.pid is not None
    for line in Path(f"/proc/{server.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


def test_oversized_header_gets_431(auth_server: AuthServerProcess) -> None:
    with connect(auth_server) as sock:
        # Four times the limit and no end of the head: the server must not wait for one.
        sock.sendall(HEAD + b"a" * (4 * LIMIT))
        answer = answer_until_closed(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b"request_header_fields_too_large" in answer


def test_huge_header_is_not_buffered_and_others_are_served(
    auth_server: AuthServerProcess,
) -> None:
    """Before the fix, an 80 MB header was held whole (320 MB of memory)."""
    before = resident_kib(auth_server)
    offered = 64 * 1024 * 1024
    sent = 0
    with connect(auth_server) as sock, httpx.Client(base_url=auth_server.base_url) as other:
        sock.sendall(HEAD)
        chunk = b"a" * (1024 * 1024)
        try:
            while sent < offered:
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server closed the connection: what it should do
        # Another client is served meanwhile, on the same process.
        assert other.get("/health").status_code == 200
    grown_mib = (resident_kib(auth_server) - before) / 1024
    # A few socket buffers at most, never the 64 MB offered.
    assert grown_mib < 16, f"the server grew by {grown_mib:.0f} MiB"
    assert sent < offered


def test_too_many_headers_get_431(client: httpx.Client) -> None:
    headers = [(f"X-Header-{n}", "1") for n in range(150)]
    response = client.get("/health", headers=headers)
    assert response.status_code == 431
    assert response.json()["code"] == "request_header_fields_too_large"
    assert client.get("/health", headers=headers[:50]).status_code == 200
