"""A role or license change and the tokens issued in its own second, through the real server
and the client library's hybrid verifier fed the server's own feed events: the token issued
just before the change (old claims) is outdated, the one issued just after it (new claims)
is not, though both have the same second. The test clock puts the three steps at the start
of a server second; an attempt that still straddles two seconds is made again."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from rozitech_auth.client import AuthServerClient
from rozitech_auth.conf import client_settings
from rozitech_auth.errors import TokenRevoked
from rozitech_auth.revocations import RevocationSet
from rozitech_auth.tokens import LocalVerifier

from tests.auth_server.helpers import bearer, feed_cursor, login, unverified_claims
from tests.auth_server.organization_helpers import (
    API,
    Person,
    events_after,
    join,
    members,
    person,
    put_license,
    refresh,
    set_role,
    switch,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock
from tests.support.smtp import SmtpSink

ATTEMPTS = 3


@pytest.fixture
def team(http: httpx.Client, smtp_sink: SmtpSink) -> tuple[Person, Person]:
    """An owner, and a member of the owner's organization whose session speaks for it."""
    owner = person(http, smtp_sink, firstName="Olga", lastName="Owner")
    colleague = person(http, smtp_sink, firstName="Mia", lastName="Member", company="Mia Co")
    join(http, smtp_sink, owner, owner.own_org, colleague)
    assert switch(http, colleague, owner.own_org).status_code == 200
    return owner, colleague


@pytest.fixture
def verifier(server: AuthServerProcess) -> Iterator[tuple[LocalVerifier, RevocationSet]]:
    """The client library's hybrid verifier of this server's tokens; the test feeds its set."""
    client = AuthServerClient(server.base_url)
    revocations = RevocationSet()
    yield (
        LocalVerifier.from_settings(
            client, client_settings(), revocations=revocations, mode="hybrid"
        ),
        revocations,
    )
    client.session.close()


@dataclass(frozen=True)
class SameSecond:
    before: str  # the access token issued just before the change
    after: str  # the access token issued just after it
    event: dict[str, Any]  # the change's feed event


def start_of_a_second(clock: TestClock) -> None:
    """Moves the server's clock (host and database alike) to just past a second's start."""
    server_now = time.time() + clock.offset
    clock.advance(1.02 - server_now % 1)


def in_one_second(
    http: httpx.Client,
    server: AuthServerProcess,
    clock: TestClock,
    org: str,
    before: Callable[[int], str],
    change: Callable[[int], None],
    after: Callable[[], str],
) -> SameSecond:
    """`before`, `change` and `after` in one server second (`attempt` numbers the try)."""
    for attempt in range(ATTEMPTS):
        start_of_a_second(clock)
        cursor = feed_cursor(http, server)
        token_before = before(attempt)
        change(attempt)
        token_after = after()
        [event] = events_after(http, server, cursor, org)
        old, new = unverified_claims(token_before), unverified_claims(token_after)
        changed_at = datetime.fromisoformat(event["revokedAt"]).timestamp()
        # One second for all three (`exp` is the second + the TTL, whatever `iat`
        # says): the case this module is about.
        if old["iat"] == math.floor(changed_at) and old["exp"] == new["exp"]:
            return SameSecond(token_before, token_after, event)
    raise AssertionError(f"no attempt of {ATTEMPTS} kept to one second")


def verified_after_the_change(
    verifier: tuple[LocalVerifier, RevocationSet], seen: SameSecond
) -> Mapping[str, Any]:
    """The client library's verifier, fed the change's event: the token of its second from
    before it is refused as revoked; the one from after it is accepted (its claims)."""
    local, revocations = verifier
    assert revocations.apply(seen.event)
    with pytest.raises(TokenRevoked):
        local.verify(seen.before)
    return local.verify(seen.after).claims


def me(http: httpx.Client, token: str) -> dict[str, Any]:
    response = http.get(f"{API}/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def test_a_role_change_outdates_the_token_of_its_second_not_the_refresh_after_it(
    http: httpx.Client,
    server: AuthServerProcess,
    clock: TestClock,
    team: tuple[Person, Person],
    verifier: tuple[LocalVerifier, RevocationSet],
) -> None:
    owner, colleague = team
    org = owner.own_org
    roles = ["admin", "member"]

    def before(attempt: int) -> str:
        refresh(http, colleague)
        return str(colleague.session["accessToken"])

    def change(attempt: int) -> None:
        changed = set_role(http, owner, org, colleague.user_id, roles[attempt % 2])
        assert changed.status_code == 200, changed.text

    def after() -> str:
        refresh(http, colleague)
        return str(colleague.session["accessToken"])

    seen = in_one_second(http, server, clock, org, before, change, after)
    role = members(http, owner, org)[colleague.user_id]
    assert (seen.event["type"], seen.event["reason"]) == ("membership_changed", "role_changed")
    old, new = unverified_claims(seen.before), unverified_claims(seen.after)
    assert old["role"] != role and new["role"] == role
    # The new token's `iat` is the cutoff: one second past the change's, within the skew.
    assert new["iat"] == seen.event["issuedBefore"] == old["iat"] + 1
    assert verified_after_the_change(verifier, seen)["role"] == role
    # The auth server answers /me from the database: the current role, whichever token.
    assert me(http, seen.before)["organization"]["role"] == role
    assert me(http, seen.after)["organization"]["role"] == role


def test_a_license_change_outdates_the_token_of_its_second_not_the_login_after_it(
    http: httpx.Client,
    server: AuthServerProcess,
    clock: TestClock,
    team: tuple[Person, Person],
    verifier: tuple[LocalVerifier, RevocationSet],
) -> None:
    owner, _colleague = team
    org = owner.own_org
    statuses = ["active", "cancelled"]
    version = int(time.time() * 1000)

    def before(attempt: int) -> str:
        refresh(http, owner)
        return str(owner.session["accessToken"])

    def change(attempt: int) -> None:
        status = statuses[attempt % 2]
        put = put_license(
            http, server, org, "insurance", status=status, expiresAt=None, version=version + attempt
        )
        assert put.status_code == 200 and put.json()["data"]["applied"], put.text

    def after() -> str:
        # A new login (its own session) in that second: the owner's one organization.
        return str(login(http, owner.email)["accessToken"])

    seen = in_one_second(http, server, clock, org, before, change, after)
    assert (seen.event["type"], seen.event["reason"]) == ("licenses_changed", "licenses_changed")
    old, new = unverified_claims(seen.before), unverified_claims(seen.after)
    licensed = "insurance" in new["licenses"]
    assert ("insurance" in old["licenses"]) != licensed
    assert new["iat"] == seen.event["issuedBefore"] == old["iat"] + 1
    assert ("insurance" in verified_after_the_change(verifier, seen)["licenses"]) == licensed
    assert me(http, seen.after)["organization"]["id"] == org
