"""The contract's JSON shapes for users, organizations and licenses."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from auth_server.identity import MembershipFacts, UserFacts


def iso(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def user_json(user: UserFacts) -> dict[str, Any]:
    return {
        "id": str(user.id),
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "emailVerified": user.email_verified,
        "isActive": user.is_active,
        "createdAt": iso(user.created_at),
    }


def membership_json(membership: MembershipFacts) -> dict[str, Any]:
    """An organization with the user's role in it (the contract's Organization)."""
    org = membership.organization
    return {"id": str(org.id), "name": org.name, "slug": org.slug, "role": membership.role}


def organization_json(membership: MembershipFacts | None) -> dict[str, Any] | None:
    return membership_json(membership) if membership is not None else None


def licenses_json(membership: MembershipFacts | None) -> dict[str, Any]:
    if membership is None:
        return {}
    return {
        lic.product_code: {"status": lic.status, "expiresAt": iso(lic.expires_at)}
        for lic in membership.organization.licenses
    }


def memberships_json(user: UserFacts, active: MembershipFacts | None) -> list[dict[str, Any]]:
    """Every organization of the user with their role in it, and which one is active."""
    return [{**membership_json(m), "active": m is active} for m in user.memberships]


def identity_json(user: UserFacts, membership: MembershipFacts | None) -> dict[str, Any]:
    """user, active organization, its licenses and every membership, as /me and login
    return them."""
    return {
        "user": user_json(user),
        "organization": organization_json(membership),
        "licenses": licenses_json(membership),
        "memberships": memberships_json(user, membership),
    }
