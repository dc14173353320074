"""The Django admin's login goes through the auth server; staff come from its organization."""

from __future__ import annotations

import io

import pytest
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper

from tests.auth_server.helpers import PASSWORD, new_email, signup
from tests.saas_admin.helpers import Account
from tests.support.auth_process import AuthServerProcess
from tests.support.ports import free_port

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]


@pytest.fixture(scope="module")
def bootstrap(auth_server: AuthServerProcess) -> tuple[str, str, str]:
    """The auth server's first admin (owner of the Rozitech organization) and the staff
    organization's id, as `create-admin` prints them."""
    return auth_server.first_admin()


@pytest.fixture
def first_admin(bootstrap: tuple[str, str, str], settings: SettingsWrapper) -> tuple[str, str]:
    settings.SAAS_ADMIN_STAFF_ORGANIZATION_ID = bootstrap[2]
    return bootstrap[0], bootstrap[1]


def admin_login(email: str, password: str) -> tuple[Client, str]:
    browser = Client()
    response = browser.post(
        "/admin/login/?next=/admin/", {"username": email, "password": password}, follow=True
    )
    return browser, response.content.decode()


def test_staff_logs_in_through_the_auth_server(first_admin: tuple[str, str]) -> None:
    browser, page = admin_login(*first_admin)
    assert "Site administration" in page
    for path in ("/admin/organizations/organization/", "/admin/billing/subscription/"):
        assert browser.get(path).status_code == 200
    from accounts.models import User

    user = User.objects.get(email=first_admin[0])
    assert user.is_staff and user.is_superuser and not user.has_usable_password()


def test_non_staff_user_is_refused(account: Account) -> None:
    _browser, page = admin_login(account.email, PASSWORD)
    assert "Site administration" not in page
    assert "staff account" in page


def test_wrong_password_and_unverified_email_are_explained(
    first_admin: tuple[str, str], auth_server: AuthServerProcess
) -> None:
    _b, wrong = admin_login(first_admin[0], "not-the-admin-password")
    assert "Please enter a correct email and password." in wrong
    import httpx

    email = new_email()
    with httpx.Client(base_url=auth_server.base_url) as http:
        signup(http, email)
    _b, unverified = admin_login(email, PASSWORD)
    assert "Please verify your email address before logging in." in unverified


def test_auth_server_down_is_explained(
    first_admin: tuple[str, str], settings: SettingsWrapper
) -> None:
    from rozitech_auth.django.apps import reset_all

    settings.AUTH_SERVICE_URL = f"http://127.0.0.1:{free_port()}"
    reset_all()
    _b, page = admin_login(*first_admin)
    assert "The authentication service is unavailable" in page


def test_seed_demo_subscribes_the_admins_organization(first_admin: tuple[str, str]) -> None:
    from django.core.management import call_command

    from billing.models import LicenseUpdate, Subscription

    email, password = first_admin
    # As keywords: a generated password may start with "-", which argv would read as a flag.
    call_command("seed_demo", email=email, password=password, stdout=io.StringIO())
    call_command("seed_demo", email=email, password=password, stdout=io.StringIO())
    subscriptions = Subscription.objects.select_related("organization", "plan")
    assert subscriptions.count() == 3  # one per product, however often it runs
    assert {(s.status, s.plan.code, s.organization.slug) for s in subscriptions} == {
        ("active", "business-yearly", "rozitech")
    }
    assert LicenseUpdate.objects.count() == 3  # each queued for the auth server
