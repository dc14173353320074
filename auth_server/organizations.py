"""Organizations and their members: create, switch, change a role, remove, leave.

Each use case owns its transaction: the change, its audit event and (for a change that
makes tokens outdated) its `membership_changed` revocation event commit together. Changes
run under the organization's lock (memberships.lock_organization), so the rule that an
organization keeps at least one owner holds under concurrency too.

Who may do what: any member sees the members; owners and admins manage members and
invitations; only owners make, unmake or remove owners; anyone may leave, except the last
owner. A caller who is not a member is told the organization does not exist.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from auth_server.accounts import Accounts
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.errors import InsufficientRole, LastOwner, MemberNotFound, OrganizationNotFound
from auth_server.memberships import (
    MANAGERS,
    Role,
    count_members,
    lock_organization,
    membership_in,
    membership_of,
    require_role,
)
from auth_server.models import AuthSession, Membership, Organization, User
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo, Sessions, session_amr


@dataclass(frozen=True)
class Switched:
    """A new access token of the same session, for the organization switched to."""

    access_token: str
    expires_in: int
    membership: Membership


class Organizations:
    def __init__(
        self,
        clock: Clock,
        accounts: Accounts,
        sessions: Sessions,
        revocations: Revocations,
        audit: AuditLog,
    ) -> None:
        self.clock = clock
        self.accounts = accounts
        self.sessions = sessions
        self.revocations = revocations
        self.audit = audit

    def create(self, db: Session, user: User, name: str, client: ClientInfo) -> Membership:
        """A new organization whose owner is the caller (their active one is unchanged)."""
        # Two tries: the second (suffixed) only when a concurrent creation took the slug.
        for attempt in range(2):
            slug = self.accounts.free_slug(db, name, force_suffix=attempt > 0)
            org = Organization(id=uuid.uuid4(), name=name.strip(), slug=slug)
            membership = Membership(user_id=user.id, organization=org, role=Role.OWNER)
            db.add_all([org, membership])
            self._audit(db, "organization_created", user, org.id, client)
            try:
                db.commit()
            except IntegrityError:
                db.rollback()
                if attempt:
                    raise
                continue
            return membership
        raise AssertionError("unreachable")

    def switch(
        self, db: Session, access_token: str, organization_id: uuid.UUID, client: ClientInfo
    ) -> Switched:
        """The caller's session now speaks for `organization_id`: the session row remembers
        it (refresh keeps it), and so does the membership (the next login starts there)."""
        # With the cutoffs: the token issued below may follow a change in the same second.
        user, claims = self.sessions.authenticate_claims(db, access_token, cutoffs=True)
        membership = membership_in(user, organization_id)
        if membership is None:
            raise OrganizationNotFound()
        now = self.clock.database_now(db)
        self.sessions.set_organization(db, claims.session_id, organization_id)
        membership.last_active_at = now
        session = db.get(AuthSession, claims.session_id)
        token = self.sessions.tokens.issue(
            user=user,
            session_id=claims.session_id,
            membership=membership,
            now=now,
            # The session's login methods, as every token of the session carries them.
            amr=session_amr(session.amr if session else None),
        )
        self._audit(db, "organization_switched", user, organization_id, client)
        db.commit()
        return Switched(token, self.sessions.tokens.ttl_seconds, membership)

    def set_mfa_required(
        self,
        db: Session,
        actor: User,
        organization_id: uuid.UUID,
        required: bool,
        client: ClientInfo,
    ) -> Membership:
        """ "Members must use MFA" on or off (owners only): members without a second factor
        are sent to enrol at their next sign-in. Committed."""
        # Owners only: the policy decides how every member signs in.
        mine = require_role(db, actor.id, organization_id, {Role.OWNER})
        mine.organization.mfa_required = required
        self._audit(
            db, "organization_mfa_policy", actor, organization_id, client, required=str(required)
        )
        db.commit()
        return mine

    def members(self, db: Session, user: User, organization_id: uuid.UUID) -> list[Membership]:
        """Every member, oldest first; for members of the organization only."""
        require_role(db, user.id, organization_id, set(Role))
        return list(
            db.scalars(
                select(Membership)
                .where(Membership.organization_id == organization_id)
                .options(selectinload(Membership.user))
                .order_by(Membership.created_at)
            )
        )

    def change_role(
        self,
        db: Session,
        actor: User,
        organization_id: uuid.UUID,
        member_id: uuid.UUID,
        role: Role,
        client: ClientInfo,
    ) -> Membership:
        lock_organization(db, organization_id)
        mine = require_role(db, actor.id, organization_id, MANAGERS)
        target = self._member(db, member_id, organization_id)
        # Owners alone make or unmake owners: an admin must not promote themself.
        if Role.OWNER in (target.role, role) and mine.role != Role.OWNER:
            raise InsufficientRole()
        if target.role == role:
            return target  # nothing changes: no audit row, no event
        self._keep_an_owner(db, target)
        previous, target.role = target.role, role
        self._audit(
            db, "member_role_changed", actor, organization_id, client,
            member=str(member_id), previous=previous, role=str(role),
        )  # fmt: skip
        self.revocations.membership_changed(db, member_id, organization_id, reason="role_changed")
        db.commit()
        return target

    def remove(
        self,
        db: Session,
        actor: User,
        organization_id: uuid.UUID,
        member_id: uuid.UUID,
        client: ClientInfo,
    ) -> str:
        """Removes a member, or the caller themself (leaving); returns "removed" or "left"."""
        lock_organization(db, organization_id)
        leaving = member_id == actor.id
        if leaving:
            target = membership_of(db, actor.id, organization_id)
            if target is None:
                raise OrganizationNotFound()
        else:
            mine = require_role(db, actor.id, organization_id, MANAGERS)
            target = self._member(db, member_id, organization_id)
            if target.role == Role.OWNER and mine.role != Role.OWNER:
                raise InsufficientRole()
        self._keep_an_owner(db, target)
        reason = "left" if leaving else "removed"
        db.execute(delete(Membership).where(Membership.id == target.id))
        self._audit(db, f"member_{reason}", actor, organization_id, client, member=str(member_id))
        # The member's tokens for the organization stop on every verifier; their sessions
        # fall back to another organization at the next refresh (sessions._active).
        self.revocations.membership_changed(db, member_id, organization_id, reason=reason)
        db.commit()
        return reason

    def _member(self, db: Session, user_id: uuid.UUID, organization_id: uuid.UUID) -> Membership:
        target = membership_of(db, user_id, organization_id)
        if target is None:
            raise MemberNotFound()
        return target

    def _keep_an_owner(self, db: Session, target: Membership) -> None:
        """LastOwner when `target` is the organization's only owner (checked under the lock)."""
        if target.role != Role.OWNER:
            return
        if count_members(db, target.organization_id, Role.OWNER) <= 1:
            raise LastOwner()

    def _audit(
        self,
        db: Session,
        event: str,
        actor: User,
        organization_id: uuid.UUID,
        client: ClientInfo,
        **details: str,
    ) -> None:
        self.audit.add(
            db,
            event,
            client=client,
            user_id=actor.id,
            email=actor.email,
            details={"organization": str(organization_id), **details},
        )
