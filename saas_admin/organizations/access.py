"""Who may see or manage an organization: its members, its owners and admins, staff."""

from __future__ import annotations

import uuid
from typing import Any

from rest_framework.exceptions import NotAuthenticated, NotFound, PermissionDenied
from rest_framework.request import Request

from accounts.models import User
from accounts.staff import has_staff_rights
from organizations.models import Membership, Organization


def caller(request: Request) -> User:
    """The authenticated local user of a request (views require authentication)."""
    user = request.user
    if not isinstance(user, User):
        raise NotAuthenticated()
    return user


def organization_or_404(organization_id: Any) -> Organization:
    """A malformed id is simply not found: never a 400 or a 500."""
    try:
        key = uuid.UUID(str(organization_id))
    except ValueError:
        raise NotFound("Organization not found") from None
    organization = Organization.objects.filter(pk=key).first()
    if organization is None:
        raise NotFound("Organization not found")
    return organization


def membership_of(user: Any, organization: Organization) -> Membership | None:
    return Membership.objects.filter(user=user, organization=organization).first()


def is_staff(user: Any) -> bool:
    """Staff as this request's verified identity says, never as stored at some login: a
    bearer token's organization and role (`auth_context`); for a Django session, the flag
    accounts.middleware re-derived from the auth server on this very request. Either way
    with a second factor when ADMIN_REQUIRE_MFA is on."""
    auth = getattr(user, "auth_context", None)
    if auth is not None:
        return has_staff_rights(auth.organization, auth.claims)
    return bool(getattr(user, "is_staff", False))


def require_member(user: Any, organization: Organization) -> Membership | None:
    """The caller's membership; staff pass without one; anyone else gets 403."""
    membership = membership_of(user, organization)
    if membership is None and not is_staff(user):
        raise PermissionDenied("You are not a member of this organization", "not_a_member")
    return membership


def require_manager(user: Any, organization: Organization) -> None:
    """Owners and admins of the organization, or staff."""
    membership = require_member(user, organization)
    if is_staff(user):
        return
    if membership is None or not membership.can_manage:
        raise PermissionDenied(
            "Only the organization's owners and admins can do this", "not_an_admin"
        )
