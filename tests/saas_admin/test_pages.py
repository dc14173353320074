"""The SaaS Admin's pages: the login form's wording, static files served by the service
itself, and the headers that keep the pages from being framed or loading foreign code."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from accounts.forms import AuthServerAdminLoginForm
from tests.auth_server.helpers import PASSWORD
from tests.saas_admin.helpers import Account

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("project_urls")]


def test_login_form_asks_for_the_email() -> None:
    assert AuthServerAdminLoginForm().fields["username"].label == "E-mail"
    page = Client().get("/admin/login/")
    assert '<label for="id_username" class="required">E-mail:</label>' in page.content.decode()
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"


def test_api_docs_load_from_this_origin_only() -> None:
    docs = Client().get("/api/docs/")
    html = docs.content.decode()
    assert docs.status_code == 200
    assert "cdn" not in html and "https://" not in html
    assert "<style>" not in html and "<script>" not in html  # no inline code: CSP 'self'
    policy = docs.headers["Content-Security-Policy"]
    assert "script-src 'self';" in policy and "style-src 'self';" in policy
    # The page's assets are served by the service itself, no nginx or collectstatic needed.
    for asset in ("drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js", "favicon.svg"):
        assert f"/static/{asset}" in html
        assert Client().get(f"/static/{asset}").status_code == 200
    assert "/api/docs/" not in Client().get("/api/schema/").content.decode()


def test_token_answers_are_never_cached(account: Account) -> None:
    api = APIClient()
    refused = api.post("/api/auth/login", {"email": account.email, "password": "x" * 12})
    assert refused.status_code == 401
    logged_in = api.post("/api/auth/login", {"email": account.email, "password": PASSWORD})
    assert logged_in.status_code == 200
    refreshed = api.post(
        "/api/auth/refresh", {"refreshToken": logged_in.json()["data"]["refreshToken"]}
    )
    assert refreshed.status_code == 200
    for response in (refused, logged_in, refreshed):
        assert "no-store" in response.headers["Cache-Control"]
