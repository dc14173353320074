"""A refresh whose answer is lost: the auth server rotated the token, then the answer never
arrived (the replica died after its commit; the load balancer answered 502). The client
retries once with the same token, which the server's grace window treats as a retry: fresh
tokens of the same session. The fault is real: a proxy between the client and the real auth
server forwards the first refresh and drops (or replaces) its answer."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from core.auth_client import AuthServerClient, AuthServiceUnavailable
from tests.saas_admin.conftest import fresh_login
from tests.saas_admin.helpers import Account, bearer, new_account
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


class LosingProxy(ThreadingHTTPServer):
    """Forwards every request to the auth server; the first `lose` refresh answers are lost
    after the server has carried the refresh out: `fault` "drop" closes the connection,
    "502" answers Bad Gateway instead."""

    def __init__(self, upstream: str, fault: str, lose: int) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream, self.fault, self.lose = upstream, fault, lose
        self.forwarded = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _Forward(BaseHTTPRequestHandler):
    server: LosingProxy

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "connection")}
        answer = httpx.post(self.server.upstream + self.path, content=body, headers=headers)
        self.server.forwarded += 1
        if self.path == "/api/auth/refresh" and self.server.lose > 0:
            self.server.lose -= 1
            if self.server.fault == "drop":
                self.close_connection = True
                return  # nothing written: the client sees the connection close
            self.send_response(502)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(answer.status_code)
        self.send_header("Content-Type", answer.headers.get("content-type", "application/json"))
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    def log_message(self, format: str, *args: object) -> None:
        pass


def losing_proxy(upstream: str, fault: str, lose: int) -> Iterator[LosingProxy]:
    proxy = LosingProxy(upstream, fault, lose)
    thread = threading.Thread(target=proxy.serve_forever, daemon=True)
    thread.start()
    try:
        yield proxy
    finally:
        proxy.shutdown()
        proxy.server_close()


@pytest.fixture(scope="module")
def person(auth_server: AuthServerProcess, smtp_sink: SmtpSink) -> Account:
    """A user of this module's own (other modules may change the shared personas' passwords)."""
    return new_account(auth_server, smtp_sink)


@pytest.fixture
def account(auth_server: AuthServerProcess, person: Account) -> Account:
    return fresh_login(auth_server, person)


@pytest.fixture(params=["drop", "502"])
def proxy(request: pytest.FixtureRequest, auth_server: AuthServerProcess) -> Iterator[LosingProxy]:
    yield from losing_proxy(auth_server.base_url, str(request.param), lose=1)


def test_a_lost_refresh_answer_is_retried_within_the_grace_window(
    proxy: LosingProxy, auth_server: AuthServerProcess, account: Account
) -> None:
    client = AuthServerClient(proxy.url)
    tokens = client.refresh_token(account.refresh_token)
    # The server carried out both: the lost rotation and the retry.
    assert proxy.forwarded == 2
    # The retry's tokens are the session's current ones: it lives on.
    me = httpx.get(f"{auth_server.base_url}/api/auth/me", headers=bearer(tokens["accessToken"]))
    assert me.status_code == 200, me.text
    again = client.refresh_token(tokens["refreshToken"])
    assert again["refreshToken"] != tokens["refreshToken"]
    client.close()


def test_only_one_retry(auth_server: AuthServerProcess, account: Account) -> None:
    for proxy in losing_proxy(auth_server.base_url, "502", lose=2):
        client = AuthServerClient(proxy.url)
        with pytest.raises(AuthServiceUnavailable):
            client.refresh_token(account.refresh_token)
        assert proxy.forwarded == 2
        client.close()
