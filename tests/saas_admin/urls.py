"""A test URLconf: one small view per authentication class, plus the project's own."""

from __future__ import annotations

from django.urls import path
from rest_framework.permissions import AllowAny, IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rozitech_auth.django.authentication import (
    AuthToken,
    CachedRemoteJWTAuthentication,
    OptionalRemoteJWTAuthentication,
    RemoteJWTAuthentication,
)
from rozitech_auth.django.views import CurrentIdentityView, identity_json


class ShortTTLAuthentication(RemoteJWTAuthentication):
    cache_ttl = 1


class Protected(APIView):
    authentication_classes = [RemoteJWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request) -> Response:
        return Response(identity_json(request))


class Licensed(APIView):
    """Whether the caller's organization may use a product (AuthToken.has_license)."""

    authentication_classes = [RemoteJWTAuthentication]
    permission_classes = [IsAuthenticated]

    def get(self, request: Request, product: str) -> Response:
        auth = request.auth
        assert isinstance(auth, AuthToken)
        granted = auth.has_license(product)
        return Response({"granted": granted, "name": auth.name, **identity_json(request)})


class CachedProtected(Protected):
    authentication_classes = [CachedRemoteJWTAuthentication]


class ShortTTLProtected(Protected):
    authentication_classes = [ShortTTLAuthentication]


class Optional(APIView):
    authentication_classes = [OptionalRemoteJWTAuthentication]
    permission_classes = [AllowAny]

    def get(self, request: Request) -> Response:
        if not request.user.is_authenticated:
            return Response({"anonymous": True})
        return Response({"anonymous": False, **identity_json(request)})


urlpatterns = [
    path("protected", Protected.as_view()),
    path("cached", CachedProtected.as_view()),
    path("licensed/<slug:product>", Licensed.as_view()),
    path("short-ttl", ShortTTLProtected.as_view()),
    path("optional", Optional.as_view()),
    path("api/auth/verify", CurrentIdentityView.as_view()),
]
