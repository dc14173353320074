"""/api/auth/*: who the caller is, and login/refresh/logout passed through to the auth server
so that a front end can talk to one host."""

from __future__ import annotations

from typing import Any

from django.utils.cache import add_never_cache_headers
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView
from rozitech_auth.client import get_auth_client
from rozitech_auth.django.authentication import AuthToken, end_user

from organizations.access import caller
from organizations.models import Membership


class VerifyView(APIView):
    """The caller as this service sees them."""

    @extend_schema(responses=inline_serializer(
        "Verify", {"success": serializers.BooleanField(), "user": serializers.DictField()}
    ))  # fmt: skip
    def get(self, request: Request) -> Response:
        user = caller(request)
        role = request.auth.role if isinstance(request.auth, AuthToken) else None
        if role is None:
            membership = Membership.objects.filter(user=user).first()
            role = membership.role if membership else None
        return Response(
            {
                "success": True,
                "user": {
                    "id": str(getattr(user, "auth_user_id", None) or user.pk),
                    "username": user.get_username(),
                    "email": getattr(user, "email", ""),
                    "fullName": user.get_full_name(),
                    "role": role,
                },
            }
        )


class LoginBody(serializers.Serializer[None]):
    email = serializers.CharField(max_length=254)
    password = serializers.CharField(max_length=1024, trim_whitespace=False)


class MfaVerifyBody(serializers.Serializer[None]):
    mfaToken = serializers.CharField(max_length=512)
    code = serializers.CharField(max_length=16, required=False)
    recoveryCode = serializers.CharField(max_length=64, required=False)
    webauthn = serializers.DictField(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        given = [name for name in ("code", "recoveryCode", "webauthn") if name in attrs]
        if len(given) != 1:
            raise serializers.ValidationError("Give exactly one of code, recoveryCode, webauthn")
        return attrs


class RefreshBody(serializers.Serializer[None]):
    refreshToken = serializers.CharField(max_length=512)


class PassThroughView(APIView):
    """No local authentication: the auth server judges these requests itself, told who the
    end user is (their address and user agent, not this service's)."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request: Request) -> str:
        # Keeps the auth server's 401 a 401 (DRF turns it into 403 without a challenge).
        return 'Bearer realm="api"'

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Tokens in these answers must not be kept by a browser or proxy cache.
        add_never_cache_headers(response)
        return super().finalize_response(request, response, *args, **kwargs)


PASSED_THROUGH = inline_serializer(
    "AuthServerAnswer", {"success": serializers.BooleanField(), "data": serializers.DictField()}
)


class LoginView(PassThroughView):
    @extend_schema(request=LoginBody, responses=PASSED_THROUGH)
    def post(self, request: Request) -> Response:
        body = LoginBody(data=request.data)
        body.is_valid(raise_exception=True)
        data = get_auth_client().login(
            body.validated_data["email"], body.validated_data["password"],
            end_user=end_user(request),
        )  # fmt: skip
        return Response({"success": True, "data": data})


class MfaVerifyView(PassThroughView):
    """The login's second step, for a front end that logged in through this service."""

    @extend_schema(request=MfaVerifyBody, responses=PASSED_THROUGH)
    def post(self, request: Request) -> Response:
        body = MfaVerifyBody(data=request.data)
        body.is_valid(raise_exception=True)
        factor = dict(body.validated_data)
        data = get_auth_client().verify_mfa(
            factor.pop("mfaToken"), factor, end_user=end_user(request)
        )
        return Response({"success": True, "data": data})


class RefreshView(PassThroughView):
    @extend_schema(request=RefreshBody, responses=PASSED_THROUGH)
    def post(self, request: Request) -> Response:
        body = RefreshBody(data=request.data)
        body.is_valid(raise_exception=True)
        data = get_auth_client().refresh_token(
            body.validated_data["refreshToken"], end_user=end_user(request)
        )
        return Response({"success": True, "data": data})


class LogoutView(PassThroughView):
    @extend_schema(request=RefreshBody, responses=PASSED_THROUGH)
    def post(self, request: Request) -> Response:
        body = RefreshBody(data=request.data)
        body.is_valid(raise_exception=True)
        get_auth_client().logout(body.validated_data["refreshToken"], end_user=end_user(request))
        return Response({"success": True, "data": {"message": "Logged out"}})
