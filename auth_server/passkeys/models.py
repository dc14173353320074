"""The passkeys' tables: registered credentials and pending WebAuthn ceremonies."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from auth_server.models import Base, UTCDateTime, utcnow


class Passkey(Base):
    """A WebAuthn credential of a user: its id and public key (no secret is stored)."""

    __tablename__ = "passkeys"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    # The authenticator's credential id, base64url: unique across users, so an assertion
    # names exactly one passkey.
    credential_id: Mapped[str] = mapped_column(String(1400), unique=True)
    public_key: Mapped[bytes] = mapped_column(LargeBinary)
    # The authenticator's signature counter: one that goes backwards is a cloned key.
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    transports: Mapped[list[str]] = mapped_column(JSON, default=list)
    name: Mapped[str] = mapped_column(String(100))
    aaguid: Mapped[str] = mapped_column(String(36))
    # "single_device" (bound to its hardware: amr "hwk") or "multi_device" (synced: "swk").
    device_type: Mapped[str] = mapped_column(String(20))
    backed_up: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class WebAuthnChallenge(Base):
    """A challenge handed to a browser for one ceremony: single use, short-lived, stored
    only as its SHA-256. Found again through the challenge the signed client data echoes."""

    __tablename__ = "webauthn_challenges"

    challenge_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    # passkeys.Purpose: "register", "login" (passwordless) or "mfa" (second factor).
    purpose: Mapped[str] = mapped_column(String(10))
    # Whose ceremony: registration and second factor only; a passwordless sign-in is
    # anonymous until the assertion names its passkey.
    user_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    # The pending login (MFA challenge) a second-factor ceremony belongs to.
    login_challenge_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
