"""The SaaS Admin's organization API, behind the real auth server."""

from __future__ import annotations

import jwt
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient

from organizations.models import Membership, Organization, Role
from tests.auth_server.helpers import PASSWORD
from tests.saas_admin.helpers import Account, bearer, new_uuid, remint
from tests.support.auth_process import AuthServerProcess

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]
WRITES = {"INSERT", "UPDATE", "DELETE"}


def test_new_user_finds_their_organization_mirrored_as_owner(
    api: APIClient, account: Account
) -> None:
    response = api.get("/api/organizations", headers=bearer(account.access_token))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["success"] is True and body["count"] == 1
    org = body["results"][0]
    assert org["id"] == account.login_data["organization"]["id"]
    assert org["name"] == account.login_data["organization"]["name"]
    assert org["role"] == "owner"
    membership = Membership.objects.get(organization_id=org["id"])
    assert str(membership.user.auth_user_id) == account.user_id

    detail = api.get(f"/api/organizations/{org['id']}", headers=bearer(account.access_token))
    assert detail.json() == {"success": True, "organization": org}


def test_strangers_get_403_unknown_and_malformed_ids_404(
    api: APIClient, account: Account, other_account: Account
) -> None:
    org_id = account.login_data["organization"]["id"]
    api.get("/api/organizations", headers=bearer(account.access_token))  # mirrors it
    stranger = api.get(f"/api/organizations/{org_id}", headers=bearer(other_account.access_token))
    assert stranger.status_code == 403
    assert stranger.json()["code"] == "not_a_member"
    for bad in (new_uuid(), "not-a-uuid", "1' OR '1'='1"):
        missing = api.get(f"/api/organizations/{bad}", headers=bearer(account.access_token))
        assert missing.status_code == 404, bad
        assert missing.json()["code"] == "not_found"
    members = api.get(
        f"/api/organizations/{org_id}/members", headers=bearer(other_account.access_token)
    )
    assert members.status_code == 403


def test_members_list(api: APIClient, account: Account, other_account: Account) -> None:
    org_id = account.login_data["organization"]["id"]
    api.get("/api/organizations", headers=bearer(account.access_token))
    api.get("/api/organizations", headers=bearer(other_account.access_token))
    colleague = Membership.objects.get(
        user__auth_user_id=other_account.user_id
    ).user  # arranged locally: the auth server has no invitations yet
    Membership.objects.create(user=colleague, organization_id=org_id, role=Role.MEMBER)
    response = api.get(f"/api/organizations/{org_id}/members", headers=bearer(account.access_token))
    members = {m["email"]: m["role"] for m in response.json()["results"]}
    assert members == {account.email: "owner", other_account.email: "member"}
    only_owners = api.get(
        f"/api/organizations/{org_id}/members?role=owner", headers=bearer(account.access_token)
    )
    assert only_owners.json()["count"] == 1


def test_steady_path_writes_nothing(api: APIClient, account: Account) -> None:
    api.get("/api/organizations", headers=bearer(account.access_token))  # first sight: mirrored
    with CaptureQueriesContext(connection) as queries:
        again = api.get("/api/organizations", headers=bearer(account.access_token))
    assert again.status_code == 200
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].lstrip().upper()[:6] in WRITES]
    assert writes == []
    assert Organization.objects.count() == 1


def test_verify_endpoint(api: APIClient, account: Account) -> None:
    response = api.get("/api/auth/verify", headers=bearer(account.access_token))
    assert response.status_code == 200
    user = response.json()["user"]
    assert response.json()["success"] is True
    assert user["id"] == account.user_id
    assert user["email"] == account.email
    assert user["fullName"] == "Ann Bee"
    assert user["role"] == "owner"
    assert "username" in user


def test_login_refresh_logout_pass_through(api: APIClient, account: Account) -> None:
    login = api.post(
        "/api/auth/login", {"email": account.email, "password": PASSWORD}, format="json"
    )
    assert login.status_code == 200
    tokens = login.json()["data"]
    assert tokens["organization"]["role"] == "owner"
    wrong = api.post(
        "/api/auth/login", {"email": account.email, "password": "wrong-password!"}, format="json"
    )
    assert wrong.status_code == 401
    assert wrong.json()["code"] == "invalid_credentials"
    refreshed = api.post(
        "/api/auth/refresh", {"refreshToken": tokens["refreshToken"]}, format="json"
    )
    assert refreshed.status_code == 200
    new_refresh = refreshed.json()["data"]["refreshToken"]
    out = api.post("/api/auth/logout", {"refreshToken": new_refresh}, format="json")
    assert out.status_code == 200
    again = api.post("/api/auth/refresh", {"refreshToken": new_refresh}, format="json")
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_refresh_token"


@pytest.mark.parametrize("mode", ["remote", "local"])
def test_both_modes_mirror_name_slug_and_role(
    api: APIClient, account: Account, settings: SettingsWrapper, mode: str
) -> None:
    settings.AUTH_VERIFY_MODE = mode
    org = api.get("/api/organizations", headers=bearer(account.access_token)).json()["results"]
    expected = account.login_data["organization"]
    assert [(o["id"], o["name"], o["slug"], o["role"]) for o in org] == [
        (expected["id"], expected["name"], expected["slug"], "owner")
    ]


# -- the mirror: ordered by the token's iat, removals reconciled (issue 20, item 8) -----------


def organizations(api: APIClient, token: str) -> dict[str, str]:
    response = api.get("/api/organizations", headers=bearer(token))
    assert response.status_code == 200, response.content
    return {o["id"]: o["role"] for o in response.json()["results"]}


@pytest.fixture
def local_mode(settings: SettingsWrapper) -> None:
    """Organization and role from the token's claims, as hybrid mode also reads them."""
    from rozitech_auth.django.apps import reset_all

    settings.AUTH_VERIFY_MODE = "local"
    reset_all()


@pytest.mark.usefixtures("local_mode")
def test_an_older_token_never_writes_an_old_role_back(
    api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    org_id = account.login_data["organization"]["id"]
    iat = jwt.decode(account.access_token, options={"verify_signature": False})["iat"]
    first = remint(auth_server, account.access_token, iat=iat - 20)
    demoted = remint(auth_server, account.access_token, role="member", iat=iat - 5)
    older = remint(auth_server, account.access_token, role="owner", iat=iat - 10)
    assert organizations(api, first) == {org_id: "owner"}
    assert organizations(api, demoted) == {org_id: "member"}
    assert organizations(api, older) == {org_id: "member"}  # verified later, issued earlier
    assert Membership.objects.get(organization_id=org_id).token_iat == iat - 5


@pytest.mark.usefixtures("local_mode")
def test_each_organization_a_token_names_is_kept_and_none_removes_them(
    api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    org_id = account.login_data["organization"]["id"]
    iat = jwt.decode(account.access_token, options={"verify_signature": False})["iat"]
    assert organizations(api, remint(auth_server, account.access_token, iat=iat - 20)) == {
        org_id: "owner"
    }
    user = Membership.objects.get(organization_id=org_id).user
    # Arranged in the admin site (no token behind it): never removed by a token.
    arranged = Organization.objects.create(id=new_uuid(), name="Arranged", slug="arranged")
    Membership.objects.create(user=user, organization=arranged)
    # A later token of another active organization (the user switched): both are theirs.
    other = new_uuid()
    switched = remint(
        auth_server, account.access_token, org=other, role="admin", org_name="Other",
        org_slug="other", iat=iat - 10,
    )  # fmt: skip
    assert organizations(api, switched) == {
        org_id: "owner",
        other: "admin",
        str(arranged.pk): "member",
    }
    # A later token with no organization at all: every membership a token showed is gone.
    alone = remint(
        auth_server, account.access_token, org=None, role=None, org_name=None, org_slug=None,
        iat=iat - 5,
    )  # fmt: skip
    assert organizations(api, alone) == {str(arranged.pk): "member"}
    # ...and an older token does not bring them back.
    older = remint(auth_server, account.access_token, iat=iat - 15)
    assert organizations(api, older) == {str(arranged.pk): "member"}
