from __future__ import annotations

from typing import Any

from rest_framework import serializers

from organizations.models import Membership, Organization


class OrganizationSerializer(serializers.ModelSerializer[Organization]):
    createdAt = serializers.DateTimeField(source="created_at", read_only=True)
    role = serializers.SerializerMethodField()

    class Meta:
        model = Organization
        fields = ["id", "name", "slug", "role", "createdAt"]

    def get_role(self, organization: Organization) -> str | None:
        """The caller's role in this organization (None for staff who are not members)."""
        roles: dict[Any, str] = self.context.get("roles", {})
        return roles.get(organization.pk)


class MemberSerializer(serializers.ModelSerializer[Membership]):
    userId = serializers.UUIDField(source="user.auth_user_id", read_only=True)
    email = serializers.EmailField(source="user.email", read_only=True)
    fullName = serializers.CharField(source="user.get_full_name", read_only=True)
    joinedAt = serializers.DateTimeField(source="created_at", read_only=True)

    class Meta:
        model = Membership
        fields = ["userId", "email", "fullName", "role", "joinedAt"]
