"""What trusted services may change: users' access, sessions, organizations' licenses."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.errors import (
    LicenseVersionConflict,
    OrganizationNotFound,
    SessionNotFound,
    UnknownProduct,
    UserNotFound,
)
from auth_server.models import AuthSession, License, Organization, User
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo

ACTOR = {"actor": "service"}


@dataclass(frozen=True)
class UserChange:
    user: User
    changed: bool
    revoked_sessions: int = 0


@dataclass(frozen=True)
class LicenseChange:
    license: License
    applied: bool


@dataclass(frozen=True)
class LicenseUpdate:
    status: str
    expires_at: datetime | None
    version: int
    # Most members the organization may have under this license; None: no limit.
    seats: int | None = None


class Administration:
    def __init__(
        self, settings: Settings, clock: Clock, revocations: Revocations, audit: AuditLog
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.revocations = revocations
        self.audit = audit

    # -- users ---------------------------------------------------------------------------

    def disable_user(self, db: Session, user_id: uuid.UUID, client: ClientInfo) -> UserChange:
        """Disables the account and revokes every session; login then answers 403."""
        user = self._user(db, user_id)
        changed = user.is_active
        user.is_active = False
        # Revoked again even when already disabled: a login racing the first disable may
        # have left a session. The user event ("every token issued before now") is written
        # when the account changes state; the session events whenever a session is revoked.
        count = self.revocations.revoke_user(
            db, user.id, reason="user_disabled", user_event=changed
        )
        self.audit.add(
            db,
            "user_disabled",
            outcome="success" if changed else "unchanged",
            client=client,
            email=user.email,
            user_id=user.id,
            details={**ACTOR, "sessions": count},
        )
        db.commit()
        return UserChange(user, changed, count)

    def enable_user(self, db: Session, user_id: uuid.UUID, client: ClientInfo) -> UserChange:
        user = self._user(db, user_id)
        changed = not user.is_active
        user.is_active = True
        self.audit.add(
            db,
            "user_enabled",
            outcome="success" if changed else "unchanged",
            client=client,
            email=user.email,
            user_id=user.id,
            details=ACTOR,
        )
        db.commit()
        return UserChange(user, changed)

    def _user(self, db: Session, user_id: uuid.UUID) -> User:
        user = db.get(User, user_id)
        if user is None:
            raise UserNotFound()
        return user

    # -- sessions ------------------------------------------------------------------------

    def revoke_session(self, db: Session, session_id: uuid.UUID, client: ClientInfo) -> bool:
        """True when the session was live and is now revoked; False when it already was."""
        owner = db.scalar(select(AuthSession.user_id).where(AuthSession.id == session_id))
        if owner is None:
            raise SessionNotFound("No such session")
        revoked = self.revocations.revoke_session(db, session_id, reason="revoked_by_service")
        self.audit.add(
            db,
            "session_revoked",
            outcome="success" if revoked else "unchanged",
            client=client,
            user_id=owner,
            details={**ACTOR, "session": str(session_id)},
        )
        db.commit()
        return revoked is not None

    # -- licenses ------------------------------------------------------------------------

    def put_license(
        self,
        db: Session,
        organization_id: uuid.UUID,
        product_code: str,
        change: LicenseUpdate,
        client: ClientInfo,
    ) -> LicenseChange:
        """Idempotent, versioned upsert: an update older than the stored version is ignored,
        the same version with the same content is a no-op, with other content a conflict."""
        if product_code not in self.settings.product_codes:
            raise UnknownProduct(f"Unknown product code: {product_code}")
        if db.get(Organization, organization_id) is None:
            raise OrganizationNotFound()
        # Retried only when a concurrent request changed the row between our statements.
        for _ in range(3):
            # Compare-and-set in one statement: of concurrent updates the highest version
            # wins whatever order they arrive in.
            updated = db.execute(
                update(License)
                .where(
                    License.organization_id == organization_id,
                    License.product_code == product_code,
                    License.version < change.version,
                )
                .values(
                    status=change.status,
                    expires_at=change.expires_at,
                    version=change.version,
                    seats=change.seats,
                    updated_at=self.clock.now(),
                )
                .execution_options(synchronize_session=False)
            )
            if updated.rowcount:  # type: ignore[attr-defined]
                return self._licensed(db, organization_id, product_code, change, client)
            stored = self._license(db, organization_id, product_code)
            if stored is None:
                if self._create(db, organization_id, product_code, change):
                    return self._licensed(db, organization_id, product_code, change, client)
                continue  # a concurrent request created it first: compare again
            if stored.version < change.version:
                # Created (or raised, by a lower version) by another request after our
                # update looked: our version is still the higher one, so compare again.
                db.rollback()
                continue
            if stored.version == change.version and not _same(stored, change):
                raise LicenseVersionConflict()
            # Older, or this very update again (a retry): the stored license stands.
            return LicenseChange(stored, applied=False)
        raise LicenseVersionConflict("The license changed concurrently; retry")

    def _create(
        self, db: Session, organization_id: uuid.UUID, product_code: str, change: LicenseUpdate
    ) -> bool:
        db.add(
            License(
                organization_id=organization_id,
                product_code=product_code,
                status=change.status,
                expires_at=change.expires_at,
                version=change.version,
                seats=change.seats,
                updated_at=self.clock.now(),
            )
        )
        try:
            db.flush()
        except IntegrityError:
            # The unique (organization, product) index settled a race: the other one won.
            db.rollback()
            return False
        return True

    def _licensed(
        self,
        db: Session,
        organization_id: uuid.UUID,
        product_code: str,
        change: LicenseUpdate,
        client: ClientInfo,
    ) -> LicenseChange:
        self.audit.add(
            db,
            "license_updated",
            client=client,
            details={
                **ACTOR,
                "organization": str(organization_id),
                "product": product_code,
                "status": change.status,
                "version": change.version,
                "seats": change.seats,
            },
        )
        # Tokens naming the organization's products are outdated: verifiers refuse them and
        # the clients refresh into the new `licenses` claim. Last before the commit.
        self.revocations.licenses_changed(db, organization_id)
        db.commit()
        stored = self._license(db, organization_id, product_code)
        assert stored is not None
        return LicenseChange(stored, applied=True)

    def _license(
        self, db: Session, organization_id: uuid.UUID, product_code: str
    ) -> License | None:
        return db.scalar(
            select(License)
            .where(License.organization_id == organization_id, License.product_code == product_code)
            .execution_options(populate_existing=True)
        )


def _same(stored: License, change: LicenseUpdate) -> bool:
    return (
        stored.status == change.status
        and stored.expires_at == change.expires_at
        and stored.seats == change.seats
    )
