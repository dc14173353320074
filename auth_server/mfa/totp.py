"""TOTP factors (RFC 6238, pyotp): a secret per user, encrypted at rest; each code once."""

from __future__ import annotations

import hmac
import io
import uuid
from dataclasses import dataclass
from datetime import datetime

import pyotp
import segno
from sqlalchemy import delete, or_, update
from sqlalchemy.orm import Session

from auth_server.mfa.secret_box import SecretBox
from auth_server.models import TotpFactor

# Codes of the step before and after the current one pass too: phones' clocks drift, and a
# code typed at the end of its 30 seconds arrives in the next step.
VALID_WINDOW = 1


@dataclass(frozen=True)
class TotpEnrolment:
    """What an authenticator app needs: the secret, as text, as a URI and as a QR code."""

    secret: str
    otpauth_uri: str
    qr_svg: str


class TotpFactors:
    def __init__(self, box: SecretBox, issuer: str) -> None:
        self.box = box
        self.issuer = issuer

    def start(self, db: Session, user_id: uuid.UUID, email: str, now: datetime) -> TotpEnrolment:
        """A new unconfirmed factor (replacing an earlier unconfirmed one). Not committed;
        the caller has checked that no confirmed factor exists."""
        secret = pyotp.random_base32()  # 160 bits from `secrets`, as RFC 4226 recommends
        factor = db.get(TotpFactor, user_id)
        if factor is None:
            factor = TotpFactor(user_id=user_id, created_at=now)
            db.add(factor)
        factor.secret_encrypted = self.box.encrypt(secret)
        factor.confirmed = False
        factor.last_used_step = None
        factor.created_at = now
        return self._enrolment(secret, email)

    def unconfirmed(self, db: Session, user_id: uuid.UUID, email: str) -> TotpEnrolment | None:
        """The enrolment started and not yet confirmed, shown again (a page reloaded, a
        wrong first code); None when there is none."""
        factor = db.get(TotpFactor, user_id)
        if factor is None or factor.confirmed:
            return None
        return self._enrolment(self.box.decrypt(factor.secret_encrypted), email)

    def _enrolment(self, secret: str, email: str) -> TotpEnrolment:
        uri = pyotp.TOTP(secret).provisioning_uri(name=email, issuer_name=self.issuer)
        return TotpEnrolment(secret, uri, _qr_svg(uri))

    def accept(self, db: Session, factor: TotpFactor, code: str, now: datetime) -> bool:
        """Whether `code` is valid now and newer than the last accepted one; if so its
        step is remembered (compare-and-set: a code is accepted once, even under races).
        Not committed."""
        totp = pyotp.TOTP(self.box.decrypt(factor.secret_encrypted))
        current = totp.timecode(now)
        matched = None
        for step in range(current - VALID_WINDOW, current + VALID_WINDOW + 1):
            # Constant time, and every candidate compared: the timing tells nothing.
            if hmac.compare_digest(totp.generate_otp(step), code):
                matched = step
        if matched is None:
            return False
        remembered = db.execute(
            update(TotpFactor)
            .where(
                TotpFactor.user_id == factor.user_id,
                # Replay refusal: this code's step, or an older one, was already used.
                or_(TotpFactor.last_used_step.is_(None), TotpFactor.last_used_step < matched),
            )
            .values(last_used_step=matched)
            .execution_options(synchronize_session=False)
        )
        return bool(remembered.rowcount == 1)  # type: ignore[attr-defined]

    def remove(self, db: Session, user_id: uuid.UUID) -> bool:
        """Deletes the user's factor, confirmed or not; whether there was one."""
        deleted = db.execute(delete(TotpFactor).where(TotpFactor.user_id == user_id))
        return bool(deleted.rowcount)  # type: ignore[attr-defined]


def _qr_svg(uri: str) -> str:
    buffer = io.BytesIO()
    # No XML declaration, with its namespace: fit to inline in a page and to use as an image.
    segno.make(uri, error="m").save(buffer, kind="svg", xmldecl=False, scale=4, border=2)
    return buffer.getvalue().decode()
