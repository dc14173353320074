"""The SaaS Admin serving six copies of one small DRF endpoint, one per authentication
setup (simplejwt's JWTAuthentication as the comparison); bench/auth_overhead.py runs it in a
real server process (uvicorn)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "saas_admin"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.base")

import django
from django.conf import settings

from bench.simplejwt_case import simplejwt_settings

settings.ROOT_URLCONF = __name__
settings.SIMPLE_JWT = simplejwt_settings(
    os.environ["AUTH_SERVICE_URL"], os.environ.get("AUTH_JWT_AUDIENCE", "rozitech")
)
django.setup()

from django.core.wsgi import get_wsgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework.authentication import BaseAuthentication  # noqa: E402
from rest_framework.permissions import AllowAny, IsAuthenticated  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402
from rest_framework_simplejwt.authentication import JWTAuthentication  # noqa: E402
from rozitech_auth.django.authentication import RemoteJWTAuthentication  # noqa: E402


class LocalAuthentication(RemoteJWTAuthentication):
    verify_mode = "local"


class HybridAuthentication(RemoteJWTAuthentication):
    verify_mode = "hybrid"


class RemoteAuthentication(RemoteJWTAuthentication):
    verify_mode = "remote"


class ColdRemoteAuthentication(RemoteJWTAuthentication):
    """Remote mode with no cache: every request asks the auth server (a cold cache)."""

    verify_mode = "remote"
    cache_ttl = 0


class Hello(APIView):
    authentication_classes: list[type[BaseAuthentication]] = []
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        return Response({"hello": "world", "user": request.user.pk})


class LocalHello(Hello):
    authentication_classes = [LocalAuthentication]
    permission_classes = [IsAuthenticated]


class HybridHello(LocalHello):
    authentication_classes = [HybridAuthentication]


class SimpleJWTHello(LocalHello):
    authentication_classes = [JWTAuthentication]


class RemoteHello(LocalHello):
    authentication_classes = [RemoteAuthentication]


class ColdRemoteHello(LocalHello):
    authentication_classes = [ColdRemoteAuthentication]


urlpatterns = [
    path("none", Hello.as_view()),
    path("local", LocalHello.as_view()),
    path("hybrid", HybridHello.as_view()),
    path("simplejwt", SimpleJWTHello.as_view()),
    path("remote-warm", RemoteHello.as_view()),
    path("remote-cold", ColdRemoteHello.as_view()),
]

application = get_wsgi_application()
