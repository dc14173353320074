"""ADMIN_REQUIRE_MFA: staff rights only for a token whose `amr` names a second factor; a
staff sign-in with a password alone gets the step-up page, whose button starts "Sign in with
Rozitech" again asking the auth server for two-step verification (`acr_values`).

A real auth server of this module's own (its first admin is staff); the SaaS Admin through
Django's test client; the auth server's hosted sign-in page through httpx, as a browser.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.auth import SESSION_KEY
from django.test import Client
from pytest_django.fixtures import Settings as SettingsWrapper
from rest_framework.test import APIClient
from rozitech_auth.amr import ACR_MFA
from rozitech_auth.django.apps import reset_all
from rozitech_auth.tokens import unverified_claims

from accounts import oidc
from accounts.sessions import TOKENS_KEY
from tests.auth_server.helpers import login, verified_user
from tests.auth_server.mfa_helpers import first_step, totp_code, verify
from tests.auth_server.pages import csrf_of
from tests.oidc.support import Browser
from tests.saas_admin.helpers import remint
from tests.saas_admin.test_admin_site import admin_login
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock, clocked_server
from tests.support.smtp import SmtpSink

if TYPE_CHECKING:
    # The stubs' name of what Django's test client answers (`.json()` included).
    from django.test.client import _MonkeyPatchedWSGIResponse as TestResponse

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("project_urls")]

CALLBACK = "http://testserver/admin/sso/callback/"


@dataclass
class Deployment:
    server: AuthServerProcess
    email: str
    password: str
    staff_organization: str
    client_id: str
    client_secret: str
    clock: TestClock


@pytest.fixture(scope="module")
def deployment(
    smtp_sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Deployment]:
    workdir: Path = tmp_path_factory.mktemp("admin-step-up")
    with clocked_server(workdir, smtp_sink.port) as (server, clock):
        email, password, staff = server.first_admin()
        created = server.register_client(
            "SaaS Admin (step-up tests)", CALLBACK, "http://testserver/admin/login/"
        )
        yield Deployment(
            server, email, password, staff, created["clientId"], created["clientSecret"], clock
        )


@pytest.fixture(autouse=True)
def use_deployment(deployment: Deployment, settings: SettingsWrapper) -> Iterator[None]:
    settings.AUTH_SERVICE_URL = deployment.server.base_url
    settings.AUTH_JWT_ISSUER = deployment.server.base_url
    settings.SAAS_ADMIN_STAFF_ORGANIZATION_ID = deployment.staff_organization
    settings.SAAS_ADMIN_OIDC_CLIENT_ID = deployment.client_id
    settings.SAAS_ADMIN_OIDC_CLIENT_SECRET = deployment.client_secret
    settings.ADMIN_REQUIRE_MFA = True
    reset_all()
    oidc.reset()
    yield
    oidc.reset()


def authorization_request(admin: Client) -> str:
    """ "Sign in with Rozitech" pressed: the authorization request's path and query."""
    response = admin.get("/admin/sso/login/", {"next": "/admin/"})
    assert response.status_code == 302, response.content
    authorize = urlsplit(response["Location"])
    return f"{authorize.path}?{authorize.query}"


def signed_in_at_provider(deployment: Deployment, authorize: str) -> httpx.Response:
    """The hosted sign-in page with the admin's e-mail and password: where it leads."""
    provider = Browser(deployment.server)
    try:
        page = provider.go(authorize)
        assert page.url.path == "/signin", page.url
        return provider.submit(
            "/signin", page, email=deployment.email, password=deployment.password,
            next=page.url.params["next"],
        )  # fmt: skip
    finally:
        provider.close()


def callback(admin: Client, answer: httpx.Response) -> TestResponse:
    """The provider's redirect to the admin site's callback, followed there."""
    assert answer.status_code in (302, 303), answer.text[:300]
    location = answer.headers["location"]
    assert location.startswith(CALLBACK), location
    return admin.get(f"/admin/sso/callback/?{urlsplit(location).query}")


def refresh_refused(deployment: Deployment, refresh: str) -> bool:
    with httpx.Client(base_url=deployment.server.base_url, timeout=30) as http:
        return http.post("/api/auth/refresh", json={"refreshToken": refresh}).status_code == 401


def test_sign_in_with_rozitech_asks_for_the_second_factor_and_enrols(
    deployment: Deployment,
) -> None:
    admin = Client()
    authorize = authorization_request(admin)
    assert parse_qs(urlsplit(authorize).query)["acr_values"] == [ACR_MFA]
    # The staff member has no factor yet: the provider has them set one up first.
    provider = Browser(deployment.server)
    try:
        page = provider.go(authorize)
        setup = provider.submit(
            "/signin", page, email=deployment.email, password=deployment.password,
            next=page.url.params["next"],
        )  # fmt: skip
        assert setup.url.path == "/signin/mfa/setup", setup.url
        secret = setup.text.split('id="totp-secret">', 1)[1].split("<", 1)[0]
        next_url = str(setup.url.params["next"])
        codes = provider.http.post(
            "/signin/mfa/setup",
            data={"csrf_token": csrf_of(setup), "code": totp_code(secret, deployment.clock),
                  "next": next_url},
        )  # fmt: skip
        assert codes.status_code == 200 and 'id="recovery-codes"' in codes.text
        answer = provider.go(next_url)
    finally:
        provider.close()
    try:
        response = callback(admin, answer)
        assert response.status_code == 302 and response["Location"] == "/admin/"
        assert admin.get("/admin/").status_code == 200
        assert unverified_claims(admin.session[TOKENS_KEY]["access"])["amr"] == ["pwd", "otp"]
        # Next time: the password, then a code from the app.
        deployment.clock.advance(30)
        admin = Client()
        provider = Browser(deployment.server)
        page = provider.go(authorization_request(admin))
        step = provider.submit(
            "/signin", page, email=deployment.email, password=deployment.password,
            next=page.url.params["next"],
        )  # fmt: skip
        assert step.url.path == "/signin/mfa", step.url
        answer = provider.submit(
            "/signin/mfa", step, code=totp_code(secret, deployment.clock),
            next=step.url.params["next"],
        )  # fmt: skip
        provider.close()
        assert callback(admin, answer).status_code == 302
        assert admin.get("/admin/").status_code == 200
        # The password form has no second step: it sends the person to the button.
        form, refusal = admin_login(deployment.email, deployment.password)
        assert "uses two-step verification" in refusal and SESSION_KEY not in form.session
    finally:
        # The other tests' staff member signs in with a password alone.
        with httpx.Client(base_url=deployment.server.base_url, timeout=30) as http:
            deployment.clock.advance(30)
            challenge = first_step(http, deployment.email, deployment.password)
            code = totp_code(secret, deployment.clock)
            access = verify(http, challenge["mfaToken"], code=code).json()["data"]["accessToken"]
            off = http.request(
                "DELETE", "/api/auth/mfa/totp", json={"password": deployment.password},
                headers={"Authorization": f"Bearer {access}"},
            )  # fmt: skip
            assert off.status_code == 200, off.text


def test_a_password_alone_gets_the_step_up_page_not_the_admin_site(
    deployment: Deployment, settings: SettingsWrapper
) -> None:
    admin = Client()
    # A provider that does not honour acr_values (the request made without it here).
    settings.ADMIN_REQUIRE_MFA = False
    answer = signed_in_at_provider(deployment, authorization_request(admin))
    settings.ADMIN_REQUIRE_MFA = True
    response = callback(admin, answer)
    page = response.content.decode()
    assert response.status_code == 403, page
    assert 'id="step-up"' in page and "requires two-step verification" in page
    # Its button starts the sign-in again, to the same place.
    assert 'id="step-up-sign-in"' in page and 'href="/admin/sso/login/?next=/admin/"' in page
    assert SESSION_KEY not in admin.session
    assert admin.get("/admin/").status_code == 302
    from accounts.models import User

    user = User.objects.get(email=deployment.email)
    assert not user.is_staff and not user.is_superuser


def test_without_the_setting_the_same_sign_in_is_staff(
    deployment: Deployment, settings: SettingsWrapper
) -> None:
    settings.ADMIN_REQUIRE_MFA = False
    admin = Client()
    authorize = authorization_request(admin)
    assert "acr_values" not in authorize
    response = callback(admin, signed_in_at_provider(deployment, authorize))
    assert response.status_code == 302 and response["Location"] == "/admin/"
    assert admin.get("/admin/").status_code == 200


def test_the_password_form_refuses_staff_without_a_second_factor(
    deployment: Deployment,
) -> None:
    browser, page = admin_login(deployment.email, deployment.password)
    assert "Site administration" not in page
    assert "requires two-step verification" in page and "Sign in with Rozitech" in page
    assert SESSION_KEY not in browser.session


def staff_session(deployment: Deployment, settings: SettingsWrapper) -> Client:
    """A staff session made while the setting was off (a password alone)."""
    settings.ADMIN_REQUIRE_MFA = False
    browser, page = admin_login(deployment.email, deployment.password)
    assert "Site administration" in page, page
    settings.ADMIN_REQUIRE_MFA = True
    return browser


def with_amr(deployment: Deployment, browser: Client, amr: list[str] | None) -> None:
    """The session's access token as the auth server would sign it with this `amr`."""
    session = browser.session
    pair = dict(session[TOKENS_KEY])
    session[TOKENS_KEY] = {**pair, "access": remint(deployment.server, pair["access"], amr=amr)}
    session.save()


def test_a_session_without_a_second_factor_loses_staff_rights_and_steps_up(
    deployment: Deployment, settings: SettingsWrapper
) -> None:
    browser = staff_session(deployment, settings)
    refresh = browser.session[TOKENS_KEY]["refresh"]
    response = browser.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/admin/login/")
    step_up = browser.get(response["Location"])
    assert step_up.status_code == 403 and 'id="step-up"' in step_up.content.decode()
    # Signed out here and at the auth server: the next sign-in starts anew.
    assert SESSION_KEY not in browser.session
    assert refresh_refused(deployment, refresh)


@pytest.mark.parametrize("factor", ["otp", "hwk", "swk"])
def test_a_second_factor_in_amr_keeps_staff_rights(
    deployment: Deployment, settings: SettingsWrapper, factor: str
) -> None:
    browser = staff_session(deployment, settings)
    with_amr(deployment, browser, ["pwd", factor])
    assert browser.get("/admin/").status_code == 200
    # The password alone, named as such: no staff rights.
    with_amr(deployment, browser, ["pwd"])
    assert browser.get("/admin/").status_code == 302


def test_a_token_without_amr_has_no_second_factor(
    deployment: Deployment, settings: SettingsWrapper
) -> None:
    browser = staff_session(deployment, settings)
    with_amr(deployment, browser, None)
    assert "amr" not in unverified_claims(browser.session[TOKENS_KEY]["access"])
    assert browser.get("/admin/").status_code == 302


def test_bearer_tokens_get_staff_rights_only_with_a_second_factor(
    deployment: Deployment, smtp_sink: SmtpSink
) -> None:
    with httpx.Client(base_url=deployment.server.base_url, timeout=30) as http:
        customer = login(http, verified_user(http, smtp_sink))
        staff = login(http, deployment.email, deployment.password)
    organization = customer["organization"]["id"]
    # The customer's own call mirrors their organization here.
    assert as_bearer(customer["accessToken"], "/api/organizations")[0] == 200
    path = f"/api/organizations/{organization}"
    status, body = as_bearer(staff["accessToken"], path)
    assert (status, body["code"]) == (403, "not_a_member")
    otp = remint(deployment.server, staff["accessToken"], amr=["pwd", "otp"])
    status, body = as_bearer(otp, path)
    assert status == 200 and body["organization"]["id"] == organization


def as_bearer(token: str, path: str) -> tuple[int, dict[str, Any]]:
    """A Bearer-authenticated API call: its status and JSON body."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    response = api.get(path)
    return response.status_code, response.json()
