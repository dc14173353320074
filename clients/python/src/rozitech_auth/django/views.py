"""The caller as this service sees them: the original integration's /api/auth/verify."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from rozitech_auth.django.authentication import AuthToken


def identity_json(request: Request) -> dict[str, Any]:
    user = request.user
    auth = request.auth
    body: dict[str, Any] = {
        "user": {
            "id": user.pk,
            "username": user.get_username(),
            "email": getattr(user, "email", ""),
            "firstName": getattr(user, "first_name", ""),
            "lastName": getattr(user, "last_name", ""),
        }
    }
    if isinstance(auth, AuthToken):
        body.update(
            authUserId=auth.user_id,
            organization=auth.organization,
            role=auth.role,
            licenses=auth.licenses,
            products=None if auth.products is None else sorted(auth.products),
            expiresAt=auth.expires_at,
            mode=auth.mode,
        )
    return body


class CurrentIdentityView(APIView):
    """GET: the authenticated caller (default authentication and permission classes)."""

    def get(self, request: Request) -> Response:
        return Response(identity_json(request))
