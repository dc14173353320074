"""Invitations: an owner or admin invites an e-mail address to an organization; whoever
holds the e-mailed single-use link and signs in (or signs up) as that address joins it.

The token is 256 random bits, e-mailed and never stored: the row keeps its SHA-256. It
works once (accepting or withdrawing it is a compare-and-set on the row), for
INVITATION_TTL (7 days by default), and only for an account with the invited address. A
new invitation of the same address to the same organization supersedes the older one.

Nothing here tells whether an address has an account: inviting answers the same, and
mails the same text, either way. The mail is written to the outbox in the invitation's
transaction (outbox.py). It names neither the organization nor the inviter: both are typed
by whoever invites, and a mail to any address must not carry their text (content
spoofing); the accepting page shows the organization once the invitee has signed in.

Seats: joining may not make the organization's members exceed the smallest `seats` of its
usable licenses (entitlements.seat_limit); counted under the organization's lock, so two
acceptances cannot both take the last seat.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, select, update
from sqlalchemy.orm import Session

from auth_server.accounts import MAX_EMAIL_LENGTH, Joiner, looks_deceptive, normalize_email
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.entitlements import seat_limit
from auth_server.errors import (
    AlreadyMember,
    InsufficientRole,
    InvalidInvitation,
    InvitationEmailMismatch,
    InvitationNotFound,
    SeatLimitReached,
    ValidationFailed,
)
from auth_server.memberships import (
    MANAGERS,
    Role,
    count_members,
    lock_organization,
    membership_of,
    require_role,
)
from auth_server.models import Invitation, License, Membership, Organization, User
from auth_server.outbox import MailOutbox
from auth_server.sessions import ClientInfo
from auth_server.tokens import hash_opaque_token, new_opaque_token


class Invitations:
    def __init__(
        self, settings: Settings, clock: Clock, outbox: MailOutbox, audit: AuditLog
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.outbox = outbox
        self.audit = audit
        self.ttl = timedelta(seconds=settings.invitation_ttl)

    def invite(
        self,
        db: Session,
        actor: User,
        organization_id: uuid.UUID,
        email: str,
        role: Role,
        client: ClientInfo,
        locale: str,
    ) -> Invitation:
        """The invitation, its mail (in `locale`) and audit event; committed. The token is
        only ever in the mail."""
        email = normalize_email(email)
        if len(email) > MAX_EMAIL_LENGTH or looks_deceptive(email):
            raise ValidationFailed(errors={"email": ["Not an address that can be invited"]})
        lock_organization(db, organization_id)
        mine = require_role(db, actor.id, organization_id, MANAGERS)
        # Admins cannot make owners, by invitation either.
        if role == Role.OWNER and mine.role != Role.OWNER:
            raise InsufficientRole()
        # Tells only what every member can see in the member list anyway.
        if self._member_with_address(db, organization_id, email):
            raise AlreadyMember()
        now = self.clock.now()
        # The newest invitation of an address is the one that works.
        db.execute(
            update(Invitation)
            .where(
                self._pending(now),
                Invitation.organization_id == organization_id,
                Invitation.email == email,
            )
            .values(withdrawn_at=now)
        )
        token = new_opaque_token()
        invitation = Invitation(
            id=uuid.uuid4(),
            organization_id=organization_id,
            email=email,
            role=role,
            token_hash=hash_opaque_token(token),
            invited_by=actor.id,
            created_at=now,
            expires_at=now + self.ttl,
        )
        db.add(invitation)
        self._audit(db, "invitation_sent", actor.id, email, invitation, client)
        self.outbox.enqueue(
            db,
            to=email,
            template="invitation",
            locale=locale,
            accept_link=self.accept_link(token),
            valid_days=self.settings.invitation_ttl // 86400,
        )
        db.commit()
        return invitation

    def pending(self, db: Session, actor: User, organization_id: uuid.UUID) -> list[Invitation]:
        require_role(db, actor.id, organization_id, MANAGERS)
        return list(
            db.scalars(
                select(Invitation)
                .where(
                    self._pending(self.clock.now()), Invitation.organization_id == organization_id
                )
                .order_by(Invitation.created_at)
            )
        )

    def withdraw(
        self,
        db: Session,
        actor: User,
        organization_id: uuid.UUID,
        invitation_id: uuid.UUID,
        client: ClientInfo,
    ) -> None:
        mine = require_role(db, actor.id, organization_id, MANAGERS)
        now = self.clock.now()
        roles = set(Role) if mine.role == Role.OWNER else {Role.ADMIN, Role.MEMBER}
        # Compare-and-set: a withdrawal racing an acceptance leaves exactly one of them.
        withdrawn = db.scalars(
            update(Invitation)
            .where(
                self._pending(now),
                Invitation.id == invitation_id,
                Invitation.organization_id == organization_id,
                Invitation.role.in_(roles),
            )
            .values(withdrawn_at=now)
            .returning(Invitation.email)
        ).first()
        if withdrawn is None:
            raise InvitationNotFound()
        self.audit.add(
            db,
            "invitation_withdrawn",
            client=client,
            user_id=actor.id,
            email=withdrawn,
            details={"organization": str(organization_id), "invitation": str(invitation_id)},
        )
        db.commit()

    def accept(self, db: Session, user: User, token: str, client: ClientInfo) -> Membership:
        """Joins the signed-in `user`; committed."""
        membership = self.redeem(db, token, user, client)
        db.commit()
        return membership

    def joiner(self, token: str, client: ClientInfo) -> Joiner:
        """For a sign-up with an invitation: joins the new account in its transaction."""
        return lambda db, user: self.redeem(db, token, user, client)

    def redeem(self, db: Session, token: str, user: User, client: ClientInfo) -> Membership:
        """Joins `user` (e-mail and id set) to the invitation's organization with its role,
        spends the invitation and adds the audit event. Does not commit: accepting commits
        at once, a sign-up with the new account."""
        now = self.clock.now()
        invitation = self._for_user(db, token, user, now)
        organization_id = invitation.organization_id
        lock_organization(db, organization_id)
        if membership_of(db, user.id, organization_id) is not None:
            raise AlreadyMember()
        self._check_seats(db, organization_id, now)
        # Compare-and-set: of two concurrent uses of one token exactly one joins.
        spent = db.execute(
            update(Invitation)
            .where(Invitation.id == invitation.id, self._pending(now))
            .values(accepted_at=now, accepted_by=user.id)
        )
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidInvitation()
        membership = Membership(
            user_id=user.id, organization_id=organization_id, role=invitation.role
        )
        db.add(membership)
        self._audit(db, "invitation_accepted", user.id, user.email, invitation, client)
        db.flush()
        return membership

    def preview(self, db: Session, token: str, user: User) -> tuple[str, str]:
        """The organization's name and the role the signed-in `user` would join with;
        changes nothing. Only the invited address sees the name (see the module's note)."""
        invitation = self._for_user(db, token, user, self.clock.now())
        organization = db.get(Organization, invitation.organization_id)
        assert organization is not None  # a foreign key of the invitation
        return organization.name, invitation.role

    def _for_user(self, db: Session, token: str, user: User, now: datetime) -> Invitation:
        """The pending invitation of `token`, sent to `user`'s address."""
        invitation = db.scalar(
            select(Invitation).where(Invitation.token_hash == hash_opaque_token(token))
        )
        if invitation is None or not self._is_pending(invitation, now):
            raise InvalidInvitation()
        if invitation.email != user.email:
            raise InvitationEmailMismatch()
        return invitation

    def _check_seats(self, db: Session, organization_id: uuid.UUID, now: datetime) -> None:
        licenses = db.scalars(select(License).where(License.organization_id == organization_id))
        limit = seat_limit(licenses, now)
        if limit is not None and count_members(db, organization_id) + 1 > limit:
            raise SeatLimitReached()

    def _member_with_address(self, db: Session, organization_id: uuid.UUID, email: str) -> bool:
        found = db.scalar(
            select(Membership.id)
            .join(User, User.id == Membership.user_id)
            .where(Membership.organization_id == organization_id, User.email == email)
        )
        return found is not None

    @staticmethod
    def _pending(now: datetime) -> ColumnElement[bool]:
        return and_(
            Invitation.accepted_at.is_(None),
            Invitation.withdrawn_at.is_(None),
            Invitation.expires_at > now,
        )

    @staticmethod
    def _is_pending(invitation: Invitation, now: datetime) -> bool:
        return (
            invitation.accepted_at is None
            and invitation.withdrawn_at is None
            and invitation.expires_at > now
        )

    def _audit(
        self,
        db: Session,
        event: str,
        user_id: uuid.UUID,
        email: str,
        invitation: Invitation,
        client: ClientInfo,
    ) -> None:
        self.audit.add(
            db,
            event,
            client=client,
            user_id=user_id,
            email=email,
            details={
                "organization": str(invitation.organization_id),
                "invitation": str(invitation.id),
                "role": invitation.role,
            },
        )

    # -- the mail --------------------------------------------------------------------------

    def accept_link(self, token: str) -> str:
        url = self.settings.invitation_accept_url
        return url.replace("{token}", token) if "{token}" in url else f"{url}?token={token}"
