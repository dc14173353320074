"""JWKSCache against the real JWKS document, with a fake clock and injected outages."""

from __future__ import annotations

from typing import Any

import pytest
from rozitech_auth.client import AuthServerClient
from rozitech_auth.errors import AuthServerUnavailable, SigningKeyNotYetKnown, TokenInvalid
from rozitech_auth.tokens import JWKSCache

from tests.support.auth_process import AuthServerProcess


class Clock:
    def __init__(self) -> None:
        self.value = 100.0

    def __call__(self) -> float:
        return self.value


class Source:
    """The real server's JWKS, with an outage switch (the fault)."""

    def __init__(self, server: AuthServerProcess) -> None:
        self.client = AuthServerClient(server.base_url)
        self.down = False
        self.calls = 0

    def __call__(self) -> dict[str, Any]:
        self.calls += 1
        if self.down:
            raise AuthServerUnavailable()
        return self.client.fetch_jwks()


@pytest.fixture
def source(auth_server: AuthServerProcess) -> Source:
    return Source(auth_server)


def test_keys_are_fetched_once_per_lifespan_and_kept_through_an_outage(source: Source) -> None:
    clock = Clock()
    cache = JWKSCache(source, lifespan=300, refetch_cooldown=30, clock=clock)
    kid = source.client.fetch_jwks()["keys"][0]["kid"]
    assert cache.key(kid).key_id == kid
    assert cache.key(kid).key_id == kid
    assert source.calls == 1
    clock.value += 301
    source.down = True
    # Expired and the server is down: the last keys stay in use...
    assert cache.key(kid).key_id == kid
    assert source.calls == 2
    # ...and the next attempt waits for the cool-down, not for every request.
    assert cache.key(kid).key_id == kid
    assert source.calls == 2
    clock.value += 31
    source.down = False
    assert cache.key(kid).key_id == kid
    assert source.calls == 3


def test_unknown_kids(source: Source) -> None:
    clock = Clock()
    cache = JWKSCache(source, lifespan=300, refetch_cooldown=30, clock=clock)
    with pytest.raises(SigningKeyNotYetKnown) as cooling:
        cache.key("no-such-kid")  # the first fetch just happened: cool-down
    assert cooling.value.retry_after == 30
    clock.value += 30
    with pytest.raises(TokenInvalid):
        cache.key("no-such-kid")  # refetched: still unknown, a plain 401
    assert source.calls == 2
    clock.value += 30
    source.down = True
    with pytest.raises(AuthServerUnavailable) as outage:
        cache.key("another-kid")  # cannot refetch: 503, never 401
    assert not isinstance(outage.value, SigningKeyNotYetKnown)


def test_no_keys_and_no_server_is_503(source: Source) -> None:
    source.down = True
    with pytest.raises(AuthServerUnavailable):
        JWKSCache(source, lifespan=300, refetch_cooldown=30).key("any")
