"""The contract's JSON shapes for users, organizations and licenses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auth_server.models import Membership, User


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "emailVerified": user.email_verified,
        "isActive": user.is_active,
        "createdAt": iso(user.created_at),
    }


def primary_membership(user: User) -> Membership | None:
    """The user's own organization: the first they joined."""
    return user.memberships[0] if user.memberships else None


def organization_json(membership: Membership | None) -> dict[str, Any] | None:
    if membership is None:
        return None
    org = membership.organization
    return {"id": str(org.id), "name": org.name, "slug": org.slug, "role": membership.role}


def licenses_json(membership: Membership | None) -> dict[str, Any]:
    if membership is None:
        return {}
    return {
        lic.product_code: {"status": lic.status, "expiresAt": iso(lic.expires_at)}
        for lic in membership.organization.licenses
    }


def identity_json(user: User) -> dict[str, Any]:
    """user, organization and licenses, as /me and login return them."""
    membership = primary_membership(user)
    return {
        "user": user_json(user),
        "organization": organization_json(membership),
        "licenses": licenses_json(membership),
    }
