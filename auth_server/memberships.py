"""Roles, which of a user's memberships a session speaks for, and the checks every
membership change makes under the organization's lock."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from typing import Protocol, TypeVar

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from auth_server.errors import InsufficientRole, OrganizationNotFound
from auth_server.identity import MembershipFacts
from auth_server.models import Membership, Organization


class Role(StrEnum):
    OWNER = "owner"
    ADMIN = "admin"
    MEMBER = "member"


# Who may manage members and invitations at all.
MANAGERS = frozenset({Role.OWNER, Role.ADMIN})
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)


MembershipT_co = TypeVar("MembershipT_co", bound=MembershipFacts, covariant=True)
# ORM memberships in, ORM memberships out (a caller may change one); rows in, rows out.
M = TypeVar("M", bound=MembershipFacts)


class Members(Protocol[MembershipT_co]):
    @property
    def memberships(self) -> Sequence[MembershipT_co]: ...


def membership_in(user: Members[M], organization_id: uuid.UUID | None) -> M | None:
    """The user's membership of that organization, if they still have one."""
    return next((m for m in user.memberships if m.organization_id == organization_id), None)


def most_recent(user: Members[M]) -> M | None:
    """The organization the user last switched to; else the first they joined."""
    return min(
        user.memberships,
        key=lambda m: (-(m.last_active_at or _NEVER).timestamp(), m.created_at),
        default=None,
    )


def active_membership(user: Members[M], organization_id: uuid.UUID | None) -> M | None:
    """The session's organization while the user is still a member of it; otherwise the
    most recently active remaining one (None when the user belongs to none)."""
    return membership_in(user, organization_id) or most_recent(user)


def lock_organization(db: Session, organization_id: uuid.UUID) -> None:
    """Serializes the membership changes of one organization until the caller's commit.

    Counting owners or seats and then writing is check-then-act: two concurrent removals
    of two owners could each see the other owner and leave none. A no-op UPDATE of the
    organization's row makes them take turns: PostgreSQL holds the row lock until commit
    (READ COMMITTED: the next statement sees what the other committed), SQLite its one
    write lock from this first write on. So call it before reading what you will check.
    """
    db.execute(
        update(Organization)
        .where(Organization.id == organization_id)
        .values(name=Organization.name)
        .execution_options(synchronize_session=False)
    )


def membership_of(db: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> Membership | None:
    return db.scalar(
        select(Membership)
        .where(Membership.user_id == user_id, Membership.organization_id == organization_id)
        # The state after the lock, never an object this session loaded before it.
        .execution_options(populate_existing=True)
    )


def require_role(
    db: Session, user_id: uuid.UUID, organization_id: uuid.UUID, roles: Collection[str]
) -> Membership:
    """The caller's membership, if their role is one of `roles`. Not a member: 404, so
    that nobody learns which organizations exist; a member without the role: 403."""
    membership = membership_of(db, user_id, organization_id)
    if membership is None:
        raise OrganizationNotFound()
    if membership.role not in roles:
        raise InsufficientRole()
    return membership


def count_members(db: Session, organization_id: uuid.UUID, role: str | None = None) -> int:
    query = select(func.count()).where(Membership.organization_id == organization_id)
    if role is not None:
        query = query.where(Membership.role == role)
    return int(db.scalar(query) or 0)
