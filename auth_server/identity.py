"""A user's identity as tokens and the contract's shapes read it: the user, their memberships,
each membership's organization and that organization's licenses.

Two sources satisfy the protocols below. The ORM (`sessions.load_identity`) for the paths
that change the user or a membership. `IdentityReader` for the read-only hot paths (refresh,
GET /api/auth/me): the same joined query in Core, its rows assembled into frozen
dataclasses. Building the ORM objects of a user with one organization cost six times the
query itself (README "Performance").
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, bindparam, select

from auth_server.models import License, Membership, Organization, User


class LicenseFacts(Protocol):
    @property
    def product_code(self) -> str: ...
    @property
    def status(self) -> str: ...
    @property
    def expires_at(self) -> datetime | None: ...


class OrganizationFacts(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def name(self) -> str: ...
    @property
    def slug(self) -> str: ...
    @property
    def licenses(self) -> Sequence[LicenseFacts]: ...


class MembershipFacts(Protocol):
    @property
    def organization_id(self) -> uuid.UUID: ...
    @property
    def role(self) -> str: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def last_active_at(self) -> datetime | None: ...
    @property
    def organization(self) -> OrganizationFacts: ...
    # The newest revocation cutoff of this membership's tokens, when read for issuing one
    # (revocations.token_cutoff); None otherwise.
    @property
    def token_cutoff(self) -> int | None: ...


class UserFacts(Protocol):
    @property
    def id(self) -> uuid.UUID: ...
    @property
    def email(self) -> str: ...
    @property
    def first_name(self) -> str: ...
    @property
    def last_name(self) -> str: ...
    @property
    def full_name(self) -> str: ...
    @property
    def email_verified(self) -> bool: ...
    @property
    def is_active(self) -> bool: ...
    @property
    def created_at(self) -> datetime: ...
    @property
    def credentials_version(self) -> int: ...
    @property
    def memberships(self) -> Sequence[MembershipFacts]: ...


@dataclass(frozen=True)
class LicenseRow:
    product_code: str
    status: str
    expires_at: datetime | None


@dataclass(frozen=True)
class OrganizationRow:
    id: uuid.UUID
    name: str
    slug: str
    licenses: tuple[LicenseRow, ...]


@dataclass(frozen=True)
class MembershipRow:
    organization_id: uuid.UUID
    role: str
    created_at: datetime
    last_active_at: datetime | None
    organization: OrganizationRow
    token_cutoff: int | None = None


@dataclass(frozen=True)
class UserRow:
    id: uuid.UUID
    email: str
    first_name: str
    last_name: str
    email_verified: bool
    is_active: bool
    created_at: datetime
    credentials_version: int
    memberships: tuple[MembershipRow, ...]

    @property
    def full_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


_IDENTITY = (
    select(
        User.id,
        User.email,
        User.first_name,
        User.last_name,
        User.email_verified,
        User.is_active,
        User.created_at,
        User.credentials_version,
        Membership.organization_id,
        Membership.role,
        Membership.created_at.label("joined_at"),
        Membership.last_active_at,
        Organization.name.label("organization_name"),
        Organization.slug.label("organization_slug"),
        License.product_code,
        License.status,
        License.expires_at,
    )
    .outerjoin(Membership, Membership.user_id == User.id)
    .outerjoin(Organization, Organization.id == Membership.organization_id)
    .outerjoin(License, License.organization_id == Organization.id)
    # The ORM relationships' orders: memberships by when they were made, licenses by code.
    .order_by(Membership.created_at, Membership.organization_id, License.product_code)
)


class IdentityReader:
    """Reads one user's identity: one query, read-only, its statement built once.

    `cutoff` (revocations.token_cutoff, for issuing a token): each membership's newest
    revocation cutoff, read by the same statement as the claims (one snapshot: claims read
    after a change come with its cutoff, claims read before it without). Built once, the
    statement's cache key is computed once: SQLAlchemy otherwise walks the whole joined
    statement on every call to find its compiled form."""

    def __init__(self, cutoff: ColumnElement[int | None] | None = None) -> None:
        query = _IDENTITY.where(User.id == bindparam("user_id"))
        if cutoff is not None:
            query = query.add_columns(cutoff.label("token_cutoff"))
        self._query = query
        self._cutoffs = cutoff is not None

    def __call__(self, connection: Connection, user_id: uuid.UUID) -> UserRow | None:
        return _identity(connection.execute(self._query, {"user_id": user_id}).all(), self._cutoffs)


def _identity(rows: Sequence[Any], cutoffs: bool) -> UserRow | None:
    """The joined query's rows assembled; None when there is no such user."""
    if not rows:
        return None
    first = rows[0]
    # One row per (membership, license); a membership without licenses has one row of NULLs.
    licenses: dict[uuid.UUID, list[LicenseRow]] = {}
    joined: dict[uuid.UUID, Any] = {}  # organization -> its first row
    for row in rows:
        if row.organization_id is None:
            continue
        joined.setdefault(row.organization_id, row)
        found = licenses.setdefault(row.organization_id, [])
        if row.product_code is not None:
            found.append(LicenseRow(row.product_code, row.status, row.expires_at))
    memberships = tuple(
        MembershipRow(
            organization_id=organization_id,
            role=row.role,
            created_at=row.joined_at,
            last_active_at=row.last_active_at,
            token_cutoff=row.token_cutoff if cutoffs else None,
            organization=OrganizationRow(
                organization_id,
                row.organization_name,
                row.organization_slug,
                tuple(licenses[organization_id]),
            ),
        )
        for organization_id, row in joined.items()
    )
    return UserRow(
        id=first.id,
        email=first.email,
        first_name=first.first_name,
        last_name=first.last_name,
        email_verified=first.email_verified,
        is_active=first.is_active,
        created_at=first.created_at,
        credentials_version=first.credentials_version,
        memberships=memberships,
    )
