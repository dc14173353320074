"""Names, licenses and organization changes as tokens and the revocation feed carry them
(issue 12), at the SaaS Admin: real auth server processes, real tokens, the real license
outbox; only `remint` re-signs a real token where a test needs claims of its choosing.
"""

from __future__ import annotations

from typing import Any

import httpx
import jwt
import pytest
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth.client import AuthServerClient
from rozitech_auth.django.signals import announce
from rozitech_auth.revocations import RevocationSet
from sqlalchemy import select

from auth_server.models import License
from billing import services
from billing.catalog import seed_catalog
from billing.models import Plan
from billing.outbox import deliver_due
from organizations.models import Membership, Organization, Role
from tests.auth_server.helpers import database
from tests.saas_admin.helpers import Account, bearer, new_uuid, now, refused, remint
from tests.support.auth_process import AuthServerProcess
from tests.support.waiting import until

pytestmark = pytest.mark.django_db(transaction=True)

# A product the sign-up does not license (it asks for teamspace).
PRODUCT = "insurance"


def identity(api: APIClient, token: str, product: str = PRODUCT) -> dict[str, Any]:
    response = api.get(f"/licensed/{product}", headers=bearer(token))
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture
def feed_settings(settings: Settings, auth_server: AuthServerProcess) -> Settings:
    """What hybrid mode needs (the feed's credential and channel), polled quickly."""
    settings.AUTH_SERVICE_TOKEN = auth_server.service_token
    settings.AUTH_REVOCATION_CHANNEL = auth_server.revocation_channel
    settings.AUTH_REVOCATION_REDIS_URL = "none"
    settings.AUTH_REVOCATION_POLL_INTERVAL = 0.2
    return settings


# -- names and licenses in the token ----------------------------------------------------------


@pytest.mark.parametrize("mode", ["local", "hybrid", "remote"])
def test_names_are_synced_in_every_mode(
    api: APIClient, feed_settings: Settings, account: Account, mode: str
) -> None:
    feed_settings.AUTH_VERIFY_MODE = mode
    feed_settings.ROOT_URLCONF = "config.urls"
    response = api.get("/api/auth/verify", headers=bearer(account.access_token))
    assert response.status_code == 200, response.content
    assert response.json()["user"]["fullName"] == "Ann Bee"


@pytest.mark.parametrize("mode", ["local", "hybrid"])
def test_the_token_says_names_and_licensed_products(
    api: APIClient,
    feed_settings: Settings,
    account: Account,
    auth_server: AuthServerProcess,
    mode: str,
) -> None:
    feed_settings.AUTH_VERIFY_MODE = mode
    # The sign-up's trial of teamspace, straight from the auth server's token.
    body = identity(api, account.access_token, "teamspace")
    assert (body["granted"], body["products"], body["mode"]) == (True, ["teamspace"], mode)
    assert (body["name"], body["user"]["firstName"], body["user"]["lastName"]) == (
        "Ann Bee",
        "Ann",
        "Bee",
    )
    assert identity(api, account.access_token)["granted"] is False
    renamed = remint(
        auth_server, account.access_token, given_name="Annie", family_name="Bee-Cee",
        name="Annie Bee-Cee", licenses=[PRODUCT, "teamspace"],
    )  # fmt: skip
    body = identity(api, renamed)
    assert (body["granted"], body["products"]) == (True, [PRODUCT, "teamspace"])
    assert (body["user"]["firstName"], body["user"]["lastName"]) == ("Annie", "Bee-Cee")
    # A token of an older auth server (no claim): nothing is granted, and nothing is said.
    older = remint(auth_server, account.access_token, licenses=None)
    assert (identity(api, older)["granted"], identity(api, older)["products"]) == (False, None)


# -- has_license in hybrid follows the organization's license -----------------------------------


def refreshed(server: AuthServerProcess, account: Account) -> Account:
    """The account after a refresh: what a client does when its token is refused."""
    response = httpx.post(
        f"{server.base_url}/api/auth/refresh",
        json={"refreshToken": account.refresh_token},
        timeout=10,
    )
    assert response.status_code == 200, response.text
    data = response.json()["data"]
    return Account(account.email, account.user_id, data["accessToken"], data["refreshToken"], data)


def after_the_second_of(account: Account) -> None:
    """Returns once the clock has reached the second of the token's `iat`: a change from
    then on outdates it. A token issued right after a change, in its second, has that
    change's cutoff (the next second) as `iat`, and another change in that same second has
    the same cutoff, so does not outdate it (`iat` has whole seconds; README "The change's
    own second")."""
    iat = jwt.decode(account.access_token, options={"verify_signature": False})["iat"]
    until(lambda: now() >= iat, "the second of the token's iat")


def test_has_license_in_hybrid_follows_the_license(
    hybrid_feed: str, api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    seed_catalog()
    assert identity(api, account.access_token)["granted"] is False
    after_the_second_of(account)  # the sign-up's trial license may be of this very second
    organization = Organization.objects.get(pk=account.login_data["organization"]["id"])
    plan = Plan.objects.get(code="starter-monthly", product__code=PRODUCT)
    subscription = services.subscribe(organization, plan)
    assert deliver_due(AuthServerClient()).delivered == 1
    # licenses_changed: the token that says "no insurance" is outdated, refused like a
    # revoked one, even when issued in the change's own second; the refreshed token says
    # what the organization has now, and works, even in that second.
    refused(api, account.access_token)
    licensed = refreshed(auth_server, account)
    assert identity(api, licensed.access_token)["granted"] is True
    # The plan's seats went with the license.
    with database(auth_server) as db:
        stored = db.scalars(
            select(License).where(
                License.organization_id == organization.pk, License.product_code == PRODUCT
            )
        ).one()
        assert stored.seats == plan.max_users

    after_the_second_of(licensed)
    services.cancel(subscription, at_period_end=False)  # the license ends now
    assert deliver_due(AuthServerClient()).delivered == 1
    refused(api, licensed.access_token)
    assert identity(api, refreshed(auth_server, licensed).access_token)["granted"] is False


# -- the revocation set: outdated organization claims ---------------------------------------


def test_revocation_set_outdates_a_membership_and_an_organizations_licenses() -> None:
    revoked = RevocationSet()
    sub, org, other_org = new_uuid(), new_uuid(), new_uuid()
    expires = "2999-01-01T00:00:00+00:00"

    def event(kind: str, **fields: Any) -> dict[str, Any]:
        return {"type": kind, "sid": None, "expiresAt": expires, **fields}

    assert revoked.apply(
        event("membership_changed", sub=sub, org=org, issuedBefore=100, reason="removed")
    )
    assert revoked.is_revoked({"sub": sub, "org": org, "iat": 99})
    assert revoked.is_revoked({"sub": sub.upper(), "org": org.upper(), "iat": 99})
    assert not revoked.is_revoked({"sub": sub, "org": org, "iat": 100})  # issued after
    assert not revoked.is_revoked({"sub": sub, "org": other_org, "iat": 99})  # another org
    assert not revoked.is_revoked({"sub": sub, "org": None, "iat": 99})  # no org at all
    assert not revoked.is_revoked({"sub": new_uuid(), "org": org, "iat": 99})  # a colleague

    assert revoked.apply(event("licenses_changed", sub=None, org=other_org, issuedBefore=200))
    assert revoked.is_revoked({"sub": new_uuid(), "org": other_org, "iat": 199})
    assert not revoked.is_revoked({"sub": new_uuid(), "org": other_org, "iat": 200})
    # No usable `iat`: it cannot prove it was issued after the change.
    assert revoked.is_revoked({"sub": sub, "org": other_org})
    # Malformed: ignored, never fatal.
    assert not revoked.apply(event("membership_changed", sub=sub, issuedBefore=1, org=None))
    assert not revoked.apply(event("licenses_changed", org=org, issuedBefore="soon"))
    assert not revoked.apply(event("licenses_changed", org=org, issuedBefore=True))
    assert len(revoked) == 2


# -- the mirror follows membership events ---------------------------------------------------


def membership_event(user_id: str, org: str, reason: str, before: int) -> dict[str, Any]:
    return {
        "type": "membership_changed",
        "sub": user_id,
        "org": org,
        "sid": None,
        "issuedBefore": before,
        "reason": reason,
        "expiresAt": "2999-01-01T00:00:00+00:00",
    }


def test_membership_events_reach_the_mirror(
    api: APIClient, feed_settings: Settings, account: Account, auth_server: AuthServerProcess
) -> None:
    """What the feed's thread does with each event: the library's listener sends the
    signal, the mirror applies it (ordered, idempotent)."""
    feed_settings.AUTH_VERIFY_MODE = "local"
    org_id = account.login_data["organization"]["id"]
    iat = now() - 30
    admin_of = str(Organization.objects.create(id=new_uuid(), name="Admin of").pk)
    member_of = str(Organization.objects.create(id=new_uuid(), name="Member of").pk)
    for org, role in ((org_id, "owner"), (admin_of, "admin"), (member_of, "member")):
        token = remint(
            auth_server, account.access_token, org=org, role=role, iat=iat, org_name=None
        )
        identity(api, token)
    rows = Membership.objects.filter(user__auth_user_id=account.user_id)
    assert dict(rows.values_list("organization_id", "role")) == {
        Organization.objects.get(pk=org).pk: role
        for org, role in ((org_id, "owner"), (admin_of, "admin"), (member_of, "member"))
    }

    # Removed: the row goes; the same event again (a backfill) changes nothing.
    for _ in range(2):
        announce(membership_event(account.user_id, member_of, "removed", iat + 1))
        assert not rows.filter(organization_id=member_of).exists()
    # A role change: the least privileged role until a newer token says which.
    announce(membership_event(account.user_id, admin_of, "role_changed", iat + 1))
    assert rows.get(organization_id=admin_of).role == Role.MEMBER
    promoted = remint(auth_server, account.access_token, org=admin_of, role="owner", iat=iat + 2)
    identity(api, promoted)
    assert rows.get(organization_id=admin_of).role == Role.OWNER
    # An event older than the row's information (replayed after the user came back): kept.
    announce(membership_event(account.user_id, admin_of, "left", iat + 1))
    assert rows.get(organization_id=admin_of).role == Role.OWNER
    # Other users' events and other kinds do not touch it.
    announce(membership_event(new_uuid(), org_id, "removed", iat + 100))
    announce({**membership_event(account.user_id, org_id, "removed", iat + 100), "type": "user"})
    assert rows.filter(organization_id=org_id).exists()
