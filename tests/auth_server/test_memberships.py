"""Organizations through the real server: names and licenses in tokens, switching, role
changes, removal, leaving, the last owner, and the feed events that outdate tokens."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.auth_server.helpers import bearer, feed_cursor, login
from tests.auth_server.organization_helpers import (
    API,
    Person,
    events_after,
    join,
    members,
    person,
    put_license,
    refresh,
    remove,
    set_role,
    switch,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import clocked_server
from tests.support.smtp import SmtpSink

UNLIMITED = {"rate_limit_per_ip": "100000/minute", "invitations_per_user": "1000/hour"}


@pytest.fixture(scope="module")
def server(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AuthServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("memberships")
    with clocked_server(workdir, smtp_sink.port, **UNLIMITED) as (running, _clock):
        yield running


@pytest.fixture
def http(server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        yield client


@pytest.fixture
def team(http: httpx.Client, smtp_sink: SmtpSink) -> tuple[Person, Person]:
    """An owner and a member who joined the owner's organization by invitation."""
    owner = person(http, smtp_sink, firstName="Olga", lastName="Owner")
    colleague = person(http, smtp_sink, firstName="Mia", lastName="Member", company="Mia Co")
    join(http, smtp_sink, owner, owner.own_org, colleague)
    return owner, colleague


def test_tokens_carry_names_and_the_active_organizations_licenses(
    http: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    owner = person(
        http, smtp_sink, firstName=" Ann ", lastName="Bee", products=["teamspace", "saas-admin"]
    )
    claims = owner.claims
    assert (claims["given_name"], claims["family_name"], claims["name"]) == (
        "Ann",
        "Bee",
        "Ann Bee",
    )
    assert claims["licenses"] == ["saas-admin", "teamspace"]
    assert (claims["org"], claims["role"]) == (owner.own_org, "owner")
    # The license ends: a licenses_changed event outdates the organization's tokens, and a
    # refresh gets the new claim.
    cursor = feed_cursor(http, server)
    ended = put_license(
        http, server, owner.own_org, "teamspace", status="expired", expiresAt=None, version=1
    )
    assert ended.status_code == 200, ended.text
    [event] = events_after(http, server, cursor, owner.own_org)
    assert event["type"] == "licenses_changed" and event["reason"] == "licenses_changed"
    assert event["sub"] is None and event["sid"] is None
    assert event["issuedBefore"] >= claims["iat"]
    assert refresh(http, owner)["licenses"] == ["saas-admin"]


def test_me_and_the_organization_list_show_every_membership(
    http: httpx.Client, smtp_sink: SmtpSink, team: tuple[Person, Person]
) -> None:
    owner, colleague = team
    me = http.get(f"{API}/me", headers=colleague.headers).json()["data"]
    assert me["organization"]["id"] == colleague.own_org
    listed = {m["id"]: (m["role"], m["active"]) for m in me["memberships"]}
    assert listed == {colleague.own_org: ("owner", True), owner.own_org: ("member", False)}
    orgs = http.get(f"{API}/organizations", headers=colleague.headers).json()["data"]
    assert orgs["organizations"] == me["memberships"]
    assert members(http, owner, owner.own_org) == {
        owner.user_id: "owner",
        colleague.user_id: "member",
    }


def test_read_only_paths_answer_as_the_login_does(
    http: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    """GET /me and refresh read the identity in Core (identity.read_identity), login through
    the ORM: two organizations, one with licenses and one without, read alike by both."""
    owner = person(http, smtp_sink, company="Two Products", products=["teamspace", "saas-admin"])
    member = person(http, smtp_sink, firstName="Lea", lastName="Two", company="No Products")
    join(http, smtp_sink, owner, owner.own_org, member)
    ended = put_license(
        http, server, owner.own_org, "teamspace", status="expired", expiresAt=None, version=1
    )
    assert ended.status_code == 200, ended.text
    assert switch(http, member, owner.own_org).status_code == 200

    logged_in = login(http, member.email)
    identity = {key: logged_in[key] for key in ("user", "organization", "licenses", "memberships")}
    me = http.get(f"{API}/me", headers=bearer(logged_in["accessToken"])).json()["data"]
    assert me == identity
    assert sorted(me["licenses"]) == ["saas-admin", "teamspace"]
    assert me["licenses"]["teamspace"] == {"status": "expired", "expiresAt": None}
    assert [m["id"] for m in me["memberships"]] == [member.own_org, owner.own_org]

    member.session = logged_in
    login_claims = member.claims
    refreshed_claims = refresh(http, member)
    for claim in ("sub", "email", "name", "org", "role", "org_name", "org_slug", "licenses"):
        assert refreshed_claims[claim] == login_claims[claim], claim
    assert refreshed_claims["licenses"] == ["saas-admin"]


def test_switch_keeps_the_session_refresh_keeps_the_organization_login_starts_there(
    http: httpx.Client, smtp_sink: SmtpSink, team: tuple[Person, Person]
) -> None:
    owner, colleague = team
    before = colleague.claims
    switched = switch(http, colleague, owner.own_org)
    assert switched.status_code == 200, switched.text
    assert switched.json()["data"]["organization"]["role"] == "member"
    after = colleague.claims
    assert (after["org"], after["role"], after["sid"]) == (owner.own_org, "member", before["sid"])
    assert refresh(http, colleague)["org"] == owner.own_org
    # A new login starts in the organization last switched to.
    again = login(http, colleague.email)
    assert again["organization"]["id"] == owner.own_org
    # Not a member: the organization does not exist, as far as the caller is told.
    stranger = person(http, smtp_sink)
    refused = switch(http, stranger, owner.own_org)
    assert refused.status_code == 404 and refused.json()["code"] == "organization_not_found"


def test_a_role_change_is_published_and_refresh_reads_the_new_role(
    http: httpx.Client, server: AuthServerProcess, team: tuple[Person, Person]
) -> None:
    owner, colleague = team
    assert switch(http, colleague, owner.own_org).status_code == 200
    cursor = feed_cursor(http, server)
    changed = set_role(http, owner, owner.own_org, colleague.user_id, "admin")
    assert changed.status_code == 200 and changed.json()["data"]["role"] == "admin"
    [event] = events_after(http, server, cursor, owner.own_org)
    assert (event["type"], event["sub"], event["reason"]) == (
        "membership_changed",
        colleague.user_id,
        "role_changed",
    )
    assert event["issuedBefore"] >= colleague.claims["iat"]
    assert refresh(http, colleague)["role"] == "admin"
    # An admin manages members but never owners: not even to promote themself.
    promoted = set_role(http, colleague, owner.own_org, colleague.user_id, "owner")
    assert promoted.status_code == 403 and promoted.json()["code"] == "insufficient_role"
    demoted = set_role(http, colleague, owner.own_org, owner.user_id, "member")
    assert demoted.status_code == 403


def test_removal_outdates_the_tokens_and_refresh_falls_back(
    http: httpx.Client, server: AuthServerProcess, team: tuple[Person, Person]
) -> None:
    owner, colleague = team
    assert switch(http, colleague, owner.own_org).status_code == 200
    cursor = feed_cursor(http, server)
    assert remove(http, owner, owner.own_org, colleague.user_id).status_code == 200
    [event] = events_after(http, server, cursor, owner.own_org)
    assert (event["type"], event["sub"], event["reason"]) == (
        "membership_changed",
        colleague.user_id,
        "removed",
    )
    # The token issued in this very second is covered too: the membership is gone.
    assert event["issuedBefore"] > colleague.claims["iat"]
    # The session falls back to the user's remaining organization.
    claims = refresh(http, colleague)
    assert (claims["org"], claims["role"]) == (colleague.own_org, "owner")
    gone = http.get(f"{API}/organizations/{owner.own_org}/members", headers=colleague.headers)
    assert gone.status_code == 404
    assert members(http, owner, owner.own_org) == {owner.user_id: "owner"}


def test_a_member_may_leave_but_the_last_owner_may_not(
    http: httpx.Client,
    smtp_sink: SmtpSink,
    server: AuthServerProcess,
    team: tuple[Person, Person],
) -> None:
    owner, colleague = team
    org = owner.own_org
    cursor = feed_cursor(http, server)
    left = remove(http, colleague, org, colleague.user_id)
    assert left.status_code == 200 and left.json()["data"]["outcome"] == "left"
    [event] = events_after(http, server, cursor, org)
    assert (event["sub"], event["reason"]) == (colleague.user_id, "left")
    for refused in (
        remove(http, owner, org, owner.user_id),
        set_role(http, owner, org, owner.user_id, "admin"),
    ):
        assert refused.status_code == 409 and refused.json()["code"] == "last_owner"
    # With a second owner the first may step down, then leave.
    second = person(http, smtp_sink)
    join(http, smtp_sink, owner, org, second, role="owner")
    assert set_role(http, owner, org, owner.user_id, "admin").status_code == 200
    assert remove(http, owner, org, owner.user_id).status_code == 200
    assert members(http, second, org) == {second.user_id: "owner"}
    # A user with no organization left gets tokens without one.
    claims = refresh(http, owner)
    assert (claims["org"], claims["role"], claims["licenses"]) == (None, None, [])
    assert remove(http, second, org, second.user_id).json()["code"] == "last_owner"


def test_members_only_and_managers_only(
    http: httpx.Client, smtp_sink: SmtpSink, team: tuple[Person, Person]
) -> None:
    owner, colleague = team
    org = owner.own_org
    stranger = person(http, smtp_sink)
    for response in (
        http.get(f"{API}/organizations/{org}/members", headers=stranger.headers),
        set_role(http, stranger, org, colleague.user_id, "admin"),
        remove(http, stranger, org, colleague.user_id),
        remove(http, stranger, org, stranger.user_id),
    ):
        assert response.status_code == 404 and response.json()["code"] == "organization_not_found"
    # A plain member sees the members but changes nothing.
    assert set_role(http, colleague, org, owner.user_id, "member").status_code == 403
    assert remove(http, colleague, org, owner.user_id).json()["code"] == "insufficient_role"
    unknown = set_role(http, owner, org, stranger.user_id, "admin")
    assert unknown.status_code == 404 and unknown.json()["code"] == "member_not_found"
    bad = set_role(http, owner, org, colleague.user_id, "superuser")
    assert bad.status_code == 400 and bad.json()["code"] == "validation_error"


def test_create_an_organization(http: httpx.Client, smtp_sink: SmtpSink) -> None:
    founder = person(http, smtp_sink)
    created = http.post(
        f"{API}/organizations", json={"name": "Side Project"}, headers=founder.headers
    )
    assert created.status_code == 201, created.text
    org = created.json()["data"]
    assert (org["name"], org["role"], org["active"]) == ("Side Project", "owner", False)
    assert org["slug"].startswith("side-project")
    assert switch(http, founder, org["id"]).status_code == 200
    assert (founder.claims["org"], founder.claims["licenses"]) == (org["id"], [])
    empty = http.post(f"{API}/organizations", json={"name": ""}, headers=founder.headers)
    assert empty.status_code == 400


def test_concurrent_departures_of_two_owners_leave_one(
    http: httpx.Client, smtp_sink: SmtpSink, server: AuthServerProcess
) -> None:
    """Both owners leave at the same moment: checked under the organization's lock, one
    goes and the other is refused, never both (on PostgreSQL too, where they truly race)."""
    for _ in range(3):
        first, second = person(http, smtp_sink), person(http, smtp_sink)
        org = first.own_org
        join(http, smtp_sink, first, org, second, role="owner")

        def leave(who: Person, org: str = org) -> int:
            with httpx.Client(base_url=server.base_url, timeout=30) as own:
                return remove(own, who, org, who.user_id).status_code

        with ThreadPoolExecutor(2) as pool:
            statuses = sorted(pool.map(leave, [first, second]))
        assert statuses == [200, 409]
        url = f"{API}/organizations/{org}/members"
        [stays] = [p for p in (first, second) if http.get(url, headers=p.headers).is_success]
        assert members(http, stays, org) == {stays.user_id: "owner"}
