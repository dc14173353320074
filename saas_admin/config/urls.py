"""URLs of the SaaS Admin."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import path
from drf_spectacular.views import SpectacularAPIView

from accounts import signin
from accounts.forms import AuthServerAdminLoginForm
from accounts.views import LoginView, LogoutView, MfaVerifyView, RefreshView, VerifyView
from billing.views import (
    InvoiceListView,
    PlanListView,
    SubscriptionActionView,
    SubscriptionCheckView,
    SubscriptionListView,
)
from config import schema  # noqa: F401  (registers the bearer scheme)
from config.docs import ApiDocsView
from config.health import health, live, ready
from config.metrics import scrape
from organizations.views import MemberListView, OrganizationDetailView, OrganizationListView

# The admin site's login asks the auth server and explains its refusals.
admin.site.login_form = AuthServerAdminLoginForm
admin.site.site_header = "Rozitech SaaS Admin"
# The password form plus the "Sign in with Rozitech" button (accounts.signin).
admin.site.login_template = "accounts/login.html"

ORG = "api/organizations/<str:organization_id>"

urlpatterns = [
    path("admin/login/", signin.login_page, name="sso-login-page"),
    path("admin/sso/login/", signin.start, name="sso-signin"),
    path("admin/sso/callback/", signin.callback, name="sso-callback"),
    # Before the admin site's own: its logout also ends the single sign-on session.
    path("admin/logout/", signin.logout_everywhere, name="sso-logout"),
    path("admin/", admin.site.urls),
    path("health", health, name="health"),
    path("health/live", live, name="health-live"),
    path("health/ready", ready, name="health-ready"),
    path("metrics", scrape, name="metrics"),
    path("api/auth/verify", VerifyView.as_view(), name="auth-verify"),
    path("api/auth/login", LoginView.as_view(), name="auth-login"),
    path("api/auth/mfa/verify", MfaVerifyView.as_view(), name="auth-mfa-verify"),
    path("api/auth/refresh", RefreshView.as_view(), name="auth-refresh"),
    path("api/auth/logout", LogoutView.as_view(), name="auth-logout"),
    path("api/organizations", OrganizationListView.as_view(), name="organizations"),
    path(ORG, OrganizationDetailView.as_view(), name="organization"),
    path(f"{ORG}/members", MemberListView.as_view(), name="members"),
    path(f"{ORG}/subscriptions", SubscriptionListView.as_view(), name="subscriptions"),
    path(
        f"{ORG}/subscriptions/<str:subscription_id>/<str:action>",
        SubscriptionActionView.as_view(),
        name="subscription-action",
    ),
    path(f"{ORG}/invoices", InvoiceListView.as_view(), name="invoices"),
    path("api/plans", PlanListView.as_view(), name="plans"),
    path("api/subscriptions/check", SubscriptionCheckView.as_view(), name="subscription-check"),
]

if settings.API_DOCS:
    urlpatterns += [
        path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
        path("api/docs/", ApiDocsView.as_view(url_name="schema"), name="docs"),
    ]

handler400 = "config.api.json_bad_request"
handler404 = "config.api.json_not_found"
handler500 = "config.api.json_server_error"
