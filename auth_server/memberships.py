"""Roles, and which of a user's memberships a session speaks for."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum

from auth_server.models import Membership, User


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


# Who may manage members and invitations at all.
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


def membership_in(user: User, organization_id: uuid.UUID | None) -> Membership | None:
    """The user's membership of that organization, if they still have one."""
    return next((m for m in user.memberships if m.organization_id == organization_id), None)


def most_recent(user: User) -> Membership | None:
    """The organization the user last switched to; else the first they joined."""
    return min(
        user.memberships,
        key=lambda m: (-(m.last_active_at or _NEVER).timestamp(), m.created_at),
        default=None,
    )


def active_membership(user: User, organization_id: uuid.UUID | None) -> Membership | None:
    """The session's organization while the user is still a member of it; otherwise the
    most recently active remaining one (None when the user belongs to none)."""
    return membership_in(user, organization_id) or most_recent(user)
