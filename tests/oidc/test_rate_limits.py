"""The provider's endpoints are rate-limited like the JSON API's: the token endpoint per
client address (every request) and per client_id (only failed client authentications; 429
in the OAuth error shape), the authorization endpoint per browser address (429 on the error
page, never a redirect), each with Retry-After."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.oidc.support import REDIRECT_URI, Registered, register
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import clocked_server
from tests.support.smtp import SmtpSink

TOKEN_PER_IP, TOKEN_PER_CLIENT, AUTHORIZE_PER_IP = 4, 6, 3


@pytest.fixture(scope="module")
def limited(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServerProcess]:
    """Behind a "proxy" (127.0.0.1 trusted): each test picks its own client addresses."""
    workdir: Path = tmp_path_factory.mktemp("oidc-limits")
    with clocked_server(
        workdir,
        smtp_sink.port,
        trusted_proxies="127.0.0.1",
        oauth_token_per_ip=f"{TOKEN_PER_IP}/minute",
        oauth_token_per_client=f"{TOKEN_PER_CLIENT}/minute",
        oauth_authorize_per_ip=f"{AUTHORIZE_PER_IP}/minute",
    ) as (server, _clock):
        yield server


def _exchange(
    server: AuthServerProcess, client: Registered, ip: str, secret: str | None = None
) -> httpx.Response:
    """A code exchange with a code that does not exist, from `ip`: authenticated with the
    client's secret (answered invalid_grant), or with `secret` instead."""
    return httpx.post(
        f"{server.base_url}/oauth2/token",
        data={"grant_type": "authorization_code", "code": "nope", "redirect_uri": REDIRECT_URI},
        auth=(client.client_id, secret or client.client_secret or ""),
        headers={"X-Forwarded-For": ip},
    )


def _assert_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    assert response.headers["Cache-Control"] == "no-store"


def test_token_endpoint_per_client_address(limited: AuthServerProcess) -> None:
    client = register(limited)
    for _ in range(TOKEN_PER_IP):
        assert _exchange(limited, client, "198.51.100.1").json()["error"] == "invalid_grant"
    _assert_limited(_exchange(limited, client, "198.51.100.1"))
    # Another address, the same client: its own budget.
    assert _exchange(limited, client, "198.51.100.2").status_code == 400


def test_token_endpoint_per_client_id_counts_failed_authentications(
    limited: AuthServerProcess,
) -> None:
    flooded, other = register(limited), register(limited)
    # Wrong secrets naming one client from many addresses, each well inside its own budget.
    for n in range(TOKEN_PER_CLIENT):
        guess = _exchange(limited, flooded, f"203.0.113.{n + 1}", secret="guess")
        assert guess.status_code == 401 and guess.json()["error"] == "invalid_client"
    # Failed guesses are limited, every address together.
    _assert_limited(_exchange(limited, flooded, "203.0.113.100", secret="guess"))
    # The real client, which authenticates, is not refused for them.
    assert _exchange(limited, flooded, "203.0.113.101").json()["error"] == "invalid_grant"
    # Another client from a fresh address is not affected.
    assert _exchange(limited, other, "203.0.113.102").json()["error"] == "invalid_grant"


def test_authenticated_exchanges_do_not_spend_the_per_client_budget(
    limited: AuthServerProcess,
) -> None:
    client = register(limited)
    # More authenticated requests than the per-client budget, from two addresses inside
    # their own budgets: none is refused.
    for n in range(TOKEN_PER_CLIENT + 1):
        response = _exchange(limited, client, f"203.0.114.{n % 2 + 1}")
        assert response.json()["error"] == "invalid_grant", response.text
    # Its failed authentications still have the whole budget.
    for n in range(TOKEN_PER_CLIENT):
        assert _exchange(limited, client, f"203.0.114.{n + 10}", secret="guess").status_code == 401
    _assert_limited(_exchange(limited, client, "203.0.114.100", secret="guess"))


def test_authorize_per_address_answers_the_error_page(limited: AuthServerProcess) -> None:
    client = register(limited)
    params = {
        "response_type": "code",
        "client_id": client.client_id,
        "redirect_uri": REDIRECT_URI,
        "scope": "openid",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    with httpx.Client(base_url=limited.base_url, timeout=30) as http:
        for _ in range(AUTHORIZE_PER_IP):
            signin = http.get(
                "/oauth2/authorize", params=params, headers={"X-Forwarded-For": "192.0.2.7"}
            )
            assert signin.status_code == 303  # to the sign-in page
        refused = http.get(
            "/oauth2/authorize", params=params, headers={"X-Forwarded-For": "192.0.2.7"}
        )
        assert refused.status_code == 429 and "location" not in refused.headers
        assert refused.headers["content-type"].startswith("text/html")
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        other = http.get(
            "/oauth2/authorize", params=params, headers={"X-Forwarded-For": "192.0.2.8"}
        )
        assert other.status_code == 303
