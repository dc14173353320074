"""URLs of the SaaS Admin."""

from __future__ import annotations

from django.contrib import admin
from django.urls import path

from core.views import CurrentIdentityView

urlpatterns = [
    path("admin/", admin.site.urls),
    # The original integration's "who am I" check: the caller as this service sees them.
    path("api/auth/verify", CurrentIdentityView.as_view(), name="auth-verify"),
]
