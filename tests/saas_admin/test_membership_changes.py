"""Membership changes made at the auth server reach the SaaS Admin in hybrid mode (issue 12):
a removed member's token is refused and their local membership row goes; a role change
outdates the token and the mirror follows; an erased user (by a trusted service or by
themselves) is refused and their local user goes, with their memberships. Real auth server,
real invitation e-mails (SMTP sink), the feed polled or its Redis channel.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from rest_framework.test import APIClient

from accounts.models import User
from organizations.models import Membership, Organization, Role
from tests.auth_server.helpers import PASSWORD
from tests.auth_server.organization_helpers import (
    Person,
    join,
    person,
    refresh,
    remove,
    set_role,
    switch,
)
from tests.saas_admin.helpers import bearer, now, refused
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink
from tests.support.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def http(auth_server: AuthServerProcess) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=auth_server.base_url, timeout=30) as client:
        yield client


def member_of_owners_organization(
    http: httpx.Client, smtp: SmtpSink, role: str = "member"
) -> tuple[Person, Person]:
    """An owner, and a colleague who joined the owner's organization by the e-mailed
    invitation and switched to it (their token names it)."""
    owner, colleague = person(http, smtp), person(http, smtp, firstName="Cy", lastName="Dee")
    join(http, smtp, owner, owner.own_org, colleague, role)
    assert switch(http, colleague, owner.own_org).status_code == 200
    return owner, colleague


def row(colleague: Person, org: str) -> Membership | None:
    return Membership.objects.filter(
        user__auth_user_id=colleague.user_id, organization_id=org
    ).first()


def accepted(api: APIClient, who: Person) -> None:
    response = api.get("/protected", headers=bearer(who.session["accessToken"]))
    assert response.status_code == 200, response.content


def test_a_removed_member_is_refused_and_their_row_removed(
    hybrid_feed: str, api: APIClient, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    owner, colleague = member_of_owners_organization(http, smtp_sink)
    accepted(api, colleague)
    mirrored = row(colleague, owner.own_org)
    assert mirrored is not None and mirrored.role == Role.MEMBER
    assert colleague.claims["name"] == "Cy Dee"
    assert mirrored.user.get_full_name() == "Cy Dee"

    assert remove(http, owner, owner.own_org, colleague.user_id).status_code == 200
    refused(api, colleague.session["accessToken"])
    until(lambda: row(colleague, owner.own_org) is None, "the membership row gone")
    # The client refreshes: back in their own organization, accepted again.
    assert refresh(http, colleague)["org"] == colleague.own_org
    accepted(api, colleague)
    assert row(colleague, owner.own_org) is None
    assert row(colleague, colleague.own_org) is not None


def test_a_role_change_outdates_the_token_and_the_mirror_follows(
    hybrid_feed: str, api: APIClient, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    owner, colleague = member_of_owners_organization(http, smtp_sink, role="admin")
    accepted(api, colleague)
    assert (mirrored := row(colleague, owner.own_org)) is not None
    assert mirrored.role == Role.ADMIN
    # A role change outdates the tokens of the seconds before it (a refresh in its own
    # second must work): the change comes after the token's second.
    issued = colleague.claims["iat"]
    until(lambda: now() > issued, "the next second")

    assert set_role(http, owner, owner.own_org, colleague.user_id, "owner").status_code == 200
    refused(api, colleague.session["accessToken"])
    # Until a token says which role it is now, the row holds the least privileged one.
    until(
        lambda: getattr(row(colleague, owner.own_org), "role", None) == Role.MEMBER,
        "the row demoted to member",
    )
    assert refresh(http, colleague)["role"] == "owner"
    accepted(api, colleague)
    assert (after := row(colleague, owner.own_org)) is not None
    assert after.role == Role.OWNER


@pytest.mark.usefixtures("project_urls")
def test_the_apis_show_many_organizations_and_members_from_the_mirror(
    hybrid_feed: str, api: APIClient, http: httpx.Client, smtp_sink: SmtpSink
) -> None:
    owner, colleague = (
        person(http, smtp_sink),
        person(http, smtp_sink, firstName="Cy", lastName="Dee"),
    )
    join(http, smtp_sink, owner, owner.own_org, colleague)

    def organizations(who: Person) -> dict[str, str | None]:
        response = api.get("/api/organizations", headers=bearer(who.session["accessToken"]))
        assert response.status_code == 200, response.content
        return {o["id"]: o["role"] for o in response.json()["results"]}

    def members() -> dict[str, tuple[str, str]]:
        response = api.get(
            f"/api/organizations/{owner.own_org}/members",
            headers=bearer(owner.session["accessToken"]),
        )
        assert response.status_code == 200, response.content
        return {m["email"]: (m["fullName"], m["role"]) for m in response.json()["results"]}

    assert organizations(owner) == {owner.own_org: "owner"}
    assert organizations(colleague) == {colleague.own_org: "owner"}  # the login's organization
    assert switch(http, colleague, owner.own_org).status_code == 200
    # A user of two organizations: each one a token of theirs named, with its role.
    assert organizations(colleague) == {colleague.own_org: "owner", owner.own_org: "member"}
    assert members() == {owner.email: ("Ann Bee", "owner"), colleague.email: ("Cy Dee", "member")}

    assert remove(http, owner, owner.own_org, colleague.user_id).status_code == 200
    # The mirror's row goes (the feed's thread deletes it), then the API no longer lists it.
    until(lambda: row(colleague, owner.own_org) is None, "the membership row gone")
    assert colleague.email not in members()
    refresh(http, colleague)
    assert organizations(colleague) == {colleague.own_org: "owner"}
    stranger = api.get(
        f"/api/organizations/{owner.own_org}", headers=bearer(colleague.session["accessToken"])
    )
    assert (stranger.status_code, stranger.json()["code"]) == (403, "not_a_member")


@pytest.mark.parametrize("by", ["service", "user"])
def test_an_erased_user_is_refused_and_their_local_user_deleted(
    hybrid_feed: str,
    api: APIClient,
    http: httpx.Client,
    smtp_sink: SmtpSink,
    auth_server: AuthServerProcess,
    by: str,
) -> None:
    owner, colleague = member_of_owners_organization(http, smtp_sink)
    accepted(api, owner)
    accepted(api, colleague)
    assert row(colleague, owner.own_org) is not None
    assert User.objects.filter(auth_user_id=colleague.user_id).exists()

    if by == "service":
        erased = http.delete(
            f"/api/admin/users/{colleague.user_id}", headers=auth_server.service_headers()
        )
    else:
        erased = http.request(
            "DELETE", "/api/auth/account", json={"password": PASSWORD}, headers=colleague.headers
        )
    assert erased.status_code == 200, erased.text
    refused(api, colleague.session["accessToken"])
    until(
        lambda: not User.objects.filter(auth_user_id=colleague.user_id).exists(),
        "the erased user's local user gone",
    )
    # Their memberships went with them; the organization (the company's, which billing
    # refers to) and its other members stay.
    assert not Membership.objects.filter(user__auth_user_id=colleague.user_id).exists()
    assert Organization.objects.filter(pk=owner.own_org).exists()
    assert row(owner, owner.own_org) is not None
    accepted(api, owner)
