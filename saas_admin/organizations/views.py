"""GET /api/organizations, /api/organizations/{id} and its members."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import generics, serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import User
from organizations.access import caller, organization_or_404, require_member
from organizations.models import Membership, Organization
from organizations.serializers import MemberSerializer, OrganizationSerializer


def _roles(user: User) -> dict[Any, str]:
    return dict(Membership.objects.filter(user=user).values_list("organization_id", "role"))


class OrganizationListView(generics.ListAPIView[Organization]):
    """The caller's organizations, with their role in each."""

    serializer_class = OrganizationSerializer
    ordering_fields = ["name", "created_at"]
    search_fields = ["name", "slug"]

    def get_queryset(self) -> QuerySet[Organization]:
        if getattr(self, "swagger_fake_view", False):  # schema generation, no request user
            return Organization.objects.none()
        return Organization.objects.filter(memberships__user=caller(self.request)).distinct()

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "roles": _roles(caller(self.request))}


class OrganizationDetailView(APIView):
    @extend_schema(responses=inline_serializer(
        "OrganizationDetail",
        {"success": serializers.BooleanField(), "organization": OrganizationSerializer()},
    ))  # fmt: skip
    def get(self, request: Request, organization_id: str) -> Response:
        organization = organization_or_404(organization_id)
        membership = require_member(request.user, organization)
        roles = {organization.pk: membership.role} if membership else {}
        data = OrganizationSerializer(organization, context={"roles": roles}).data
        return Response({"success": True, "organization": data})


class MemberListView(generics.ListAPIView[Membership]):
    serializer_class = MemberSerializer
    ordering_fields = ["created_at", "role"]
    filterset_fields = ["role"]

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        organization = organization_or_404(self.kwargs["organization_id"])
        require_member(self.request.user, organization)
        return Membership.objects.filter(organization=organization).select_related("user")
