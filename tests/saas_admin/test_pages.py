"""The SaaS Admin's pages: the login form's wording, static files served by the service
itself, and the headers that keep the pages from being framed or loading foreign code."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.forms import AuthServerAdminLoginForm

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
