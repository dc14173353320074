"""Admin-site sessions follow the auth server: staff by the staff organization's id, derived
on every request; a session revoked there (logout, logout-all, password reset or change, a
disabled user) ends here on the next request; a Django logout ends the auth-server session.

A real auth server of this module's own, with its first admin created
after a squatter signed up as "ROZITECH!"; Django's test client against the SaaS Admin.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient
from rozitech_auth.django.apps import reset_all
from sqlalchemy import delete, select, update

from accounts.sessions import TOKENS_KEY
from auth_server.models import Membership, Organization, User
from tests.auth_server.helpers import PASSWORD, bearer, database, login, verified_user
from tests.saas_admin.helpers import remint
from tests.saas_admin.test_admin_site import admin_login
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import clocked_server, reset_token
from tests.support.ports import free_port
from tests.support.smtp import SmtpSink

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]


@dataclass
class Deployment:
    server: AuthServerProcess
    admin_email: str
    staff_organization: str
    squatter: str
    # The admin's password now (tests change it and put it back).
    password: str


@pytest.fixture(scope="module")
def deployment(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp("admin-sessions")
    admin_email = f"admin-{uuid.uuid4().hex[:8]}@example.com"
    with clocked_server(workdir, smtp_sink.port, admin_email=admin_email) as (server, _clock):
        # Before the first admin exists: the squatting the staff organization's slug was open to.
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            squatter = verified_user(http, smtp_sink, company="ROZITECH!")
        email, password, staff = server.first_admin()
        assert email == admin_email
        yield Deployment(server, admin_email, staff, squatter, password)


@pytest.fixture(autouse=True)
def use_deployment(deployment: Deployment, settings: SettingsWrapper) -> None:
    settings.AUTH_SERVICE_URL = deployment.server.base_url
    settings.AUTH_JWT_ISSUER = deployment.server.base_url
    settings.SAAS_ADMIN_STAFF_ORGANIZATION_ID = deployment.staff_organization
    reset_all()


def admin_page(browser: Client) -> str:
    """Where GET /admin/ leads: "admin" (the index) or "login" (the login page)."""
    response = browser.get("/admin/")
    if response.status_code == 200:
        assert "Site administration" in response.content.decode()
        return "admin"
    assert response.status_code == 302, response.status_code
    assert response["Location"].startswith("/admin/login/")
    return "login"


def staff_browser(deployment: Deployment) -> Client:
    browser, page = admin_login(deployment.admin_email, deployment.password)
    assert "Site administration" in page, page
    assert admin_page(browser) == "admin"
    return browser


def api_status(browser: Client) -> int:
    """A session-authenticated API call (the Django session cookie, no Bearer token)."""
    return int(browser.get("/api/organizations").status_code)


def auth_http(deployment: Deployment) -> httpx.Client:
    return httpx.Client(base_url=deployment.server.base_url, timeout=30)


def set_role(deployment: Deployment, role: str | None) -> None:
    """The admin's role in the staff organization; None removes the membership."""
    with database(deployment.server) as db:
        user_id = db.scalar(select(User.id).where(User.email == deployment.admin_email))
        org_id = uuid.UUID(deployment.staff_organization)
        where = (Membership.user_id == user_id, Membership.organization_id == org_id)
        if role is None:
            db.execute(delete(Membership).where(*where))
        elif db.scalar(select(Membership.user_id).where(*where)) is None:
            db.add(Membership(user_id=user_id, organization_id=org_id, role=role))
        else:
            db.execute(update(Membership).where(*where).values(role=role))
        db.commit()


# -- staff by id ------------------------------------------------------------------------------


def test_a_squatted_company_name_gives_no_staff_rights(deployment: Deployment) -> None:
    with auth_http(deployment) as http:
        data = login(http, deployment.squatter)
    assert data["organization"]["slug"] != "rozitech"  # the slug is reserved
    browser, page = admin_login(deployment.squatter, PASSWORD)
    assert "Site administration" not in page and "staff account" in page
    assert admin_page(browser) == "login"
    with database(deployment.server) as db:
        staff = db.scalar(select(Organization).where(Organization.slug == "rozitech"))
    assert staff is not None and str(staff.id) == deployment.staff_organization


def test_create_admin_refuses_a_taken_slug(deployment: Deployment) -> None:
    server = deployment.server
    # The slug of another name than ADMIN_ORGANIZATION is not reserved: a sign-up takes it.
    with auth_http(deployment) as http:
        taken = login(http, deployment.squatter)["organization"]["slug"]
    saved = dict(server.env)
    server.env.update(ADMIN_ORGANIZATION=taken, ADMIN_EMAIL="second@example.com")
    try:
        with pytest.raises(RuntimeError, match="taken by another account"):
            server.create_admin()
    finally:
        server.env.clear()
        server.env.update(saved)
    with database(server) as db:
        assert db.scalar(select(User.id).where(User.email == "second@example.com")) is None


def test_create_admin_again_prints_the_same_staff_organization(deployment: Deployment) -> None:
    printed = deployment.server.create_admin()
    assert f"SAAS_ADMIN_STAFF_ORGANIZATION_ID): {deployment.staff_organization}" in printed
    path = deployment.server.data_dir / "staff-organization"
    assert path.read_text() == deployment.staff_organization
    assert path.stat().st_mode & 0o077 == 0


def test_staff_follows_the_role_on_every_request(deployment: Deployment) -> None:
    from accounts.models import User as LocalUser

    browser = staff_browser(deployment)
    try:
        set_role(deployment, "member")
        assert admin_page(browser) == "login"  # demoted: the very next request
        assert not LocalUser.objects.get(email=deployment.admin_email).is_staff
        set_role(deployment, "admin")
        assert admin_page(browser) == "admin"  # the same session, staff again
        set_role(deployment, None)
        assert admin_page(browser) == "login"  # removed from the staff organization
    finally:
        set_role(deployment, "owner")
    assert admin_page(browser) == "admin"


def test_nobody_is_staff_without_a_staff_organization(
    deployment: Deployment, settings: SettingsWrapper
) -> None:
    browser = staff_browser(deployment)
    settings.SAAS_ADMIN_STAFF_ORGANIZATION_ID = ""
    settings.SAAS_ADMIN_STAFF_ORGANIZATION_FILE = str(deployment.server.data_dir / "missing")
    assert admin_page(browser) == "login"
    settings.SAAS_ADMIN_STAFF_ORGANIZATION_FILE = str(
        deployment.server.data_dir / "staff-organization"
    )
    assert admin_page(browser) == "admin"  # the file create-admin wrote


# -- sessions bound to the auth server's ------------------------------------------------------


def test_a_disabled_admin_is_shown_the_login_page(deployment: Deployment) -> None:
    browser = staff_browser(deployment)
    assert api_status(browser) == 200
    admin_api = f"{deployment.server.base_url}/api/admin/users"
    with auth_http(deployment) as http:
        user_id = login(http, deployment.admin_email, deployment.password)["user"]["id"]
        headers = deployment.server.service_headers()
        assert http.post(f"{admin_api}/{user_id}/disable", headers=headers).status_code == 200
        try:
            assert admin_page(browser) == "login"
            assert api_status(browser) == 401
        finally:
            assert http.post(f"{admin_api}/{user_id}/enable", headers=headers).status_code == 200
    assert admin_page(browser) == "login"  # logged out for good, not only while disabled


def test_logout_all_ends_the_admin_session(deployment: Deployment) -> None:
    browser = staff_browser(deployment)
    with auth_http(deployment) as http:
        other = login(http, deployment.admin_email, deployment.password)
        response = http.post("/api/auth/logout-all", headers=bearer(other["accessToken"]))
        assert response.status_code == 200
    assert admin_page(browser) == "login"
    assert api_status(browser) == 401


def test_a_password_change_elsewhere_ends_the_admin_session(deployment: Deployment) -> None:
    browser = staff_browser(deployment)
    new_password = f"another-long-passphrase-{uuid.uuid4().hex[:6]}"
    with auth_http(deployment) as http:
        other = login(http, deployment.admin_email, deployment.password)
        response = http.post(
            "/api/auth/change-password",
            headers=bearer(other["accessToken"]),
            json={"currentPassword": deployment.password, "newPassword": new_password},
        )
        assert response.status_code == 200, response.text
    deployment.password = new_password
    assert admin_page(browser) == "login"
    assert api_status(browser) == 401


def test_a_password_reset_ends_the_admin_session(
    deployment: Deployment, smtp_sink: SmtpSink
) -> None:
    browser = staff_browser(deployment)
    new_password = f"reset-long-passphrase-{uuid.uuid4().hex[:6]}"
    with auth_http(deployment) as http:
        before = len(smtp_sink.messages_to(deployment.admin_email))
        forgot = http.post("/api/auth/forgot-password", json={"email": deployment.admin_email})
        assert forgot.status_code == 200
        token = reset_token(smtp_sink.wait_for(deployment.admin_email, count=before + 1))
        done = http.post(
            "/api/auth/reset-password", json={"token": token, "password": new_password}
        )
        assert done.status_code == 200, done.text
    deployment.password = new_password
    assert admin_page(browser) == "login"


def test_django_logout_ends_the_auth_server_session(deployment: Deployment) -> None:
    browser = staff_browser(deployment)
    refresh = browser.session[TOKENS_KEY]["refresh"]
    assert browser.post("/admin/logout/").status_code == 200
    with auth_http(deployment) as http:
        response = http.post("/api/auth/refresh", json={"refreshToken": refresh})
    assert response.status_code == 401


def test_an_expired_access_token_is_refreshed_and_kept(deployment: Deployment) -> None:
    browser = staff_browser(deployment)
    session = browser.session
    old = dict(session[TOKENS_KEY])
    # The session's access token as it is ACCESS_TOKEN_TTL later: expired (same session).
    expired = remint(deployment.server, old["access"], exp=int(time.time()) - 1)
    session[TOKENS_KEY] = {**old, "access": expired}
    session.save()
    assert admin_page(browser) == "admin"
    new = browser.session[TOKENS_KEY]
    assert new["access"] not in (old["access"], expired) and new["refresh"] != old["refresh"]
    # A second request of the same moment (parallel, read the session before the first
    # saved it) still holds the expired token: it refreshes too (the grace window's retry)
    # instead of meeting the first one's refusal of that token and logging the user out.
    session = browser.session
    session[TOKENS_KEY] = {**old, "access": expired}
    session.save()
    assert admin_page(browser) == "admin"
    with auth_http(deployment) as http:
        # The rotated refresh token is the live one of the auth-server session.
        latest = browser.session[TOKENS_KEY]["refresh"]
        assert http.post("/api/auth/refresh", json={"refreshToken": latest}).is_success


def test_a_session_from_before_the_binding_is_ended(deployment: Deployment) -> None:
    from accounts.models import User as LocalUser

    staff_browser(deployment)
    user = LocalUser.objects.get(email=deployment.admin_email)
    browser = Client()
    browser.force_login(user)  # a Django session with no auth-server session behind it
    assert admin_page(browser) == "login"


def test_an_unreachable_auth_server_is_503_not_a_logout(
    deployment: Deployment, settings: SettingsWrapper
) -> None:
    browser = staff_browser(deployment)
    settings.AUTH_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    reset_all()
    response = browser.get("/admin/")
    assert response.status_code == 503 and int(response["Retry-After"]) >= 1
    settings.AUTH_SERVICE_URL = deployment.server.base_url
    reset_all()
    assert admin_page(browser) == "admin"


def test_bearer_calls_take_staff_from_the_token_not_a_stored_flag(
    deployment: Deployment, api: APIClient
) -> None:
    from accounts.models import User as LocalUser

    with auth_http(deployment) as http:
        squatter = login(http, deployment.squatter)
        again = login(http, deployment.squatter)  # not in the verification cache
        admin = login(http, deployment.admin_email, deployment.password)
    squatters_org = f"/api/organizations/{squatter['organization']['id']}"
    admins_org = f"/api/organizations/{deployment.staff_organization}"
    assert api.get(admins_org, headers=bearer(admin["accessToken"])).status_code == 200
    assert api.get(squatters_org, headers=bearer(squatter["accessToken"])).status_code == 200
    # A flag stored by some earlier login grants nothing: the token is not staff's.
    stale = LocalUser.objects.filter(email=deployment.squatter)
    assert stale.update(is_staff=True, is_superuser=True) == 1
    assert api.get(admins_org, headers=bearer(again["accessToken"])).status_code == 403
    # The staff organization's owner is staff by the token alone, in any organization.
    assert api.get(squatters_org, headers=bearer(admin["accessToken"])).status_code == 200
