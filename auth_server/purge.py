"""Deletes what can never be used again: expired sessions, codes (e-mail and OpenID
Connect), reset tokens, MFA challenges, locks, invitations, revocation events, finished
mail."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import delete, or_
from sqlalchemy.orm import Session

from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.models import (
    AuditEvent,
    AuthSession,
    EmailVerification,
    Invitation,
    LoginLock,
    MfaChallengeRecord,
    PasswordReset,
    RevocationEvent,
)
from auth_server.oidc.models import AuthorizationCode
from auth_server.outbox import MailOutbox
from auth_server.passkeys.models import WebAuthnChallenge

SESSION_MARGIN = timedelta(hours=1)


def purge(db: Session, settings: Settings, clock: Clock, outbox: MailOutbox) -> dict[str, int]:
    """Safe at any time, any number of times, beside running servers: every row it
    deletes is already refused by the code that reads it. Returns the counts deleted."""
    # The database's clock: the expiries below were written from it (clock.py).
    now = clock.database_now(db)
    counts: dict[str, int] = {}

    def run(name: str, statement: object) -> None:
        result = db.execute(statement)  # type: ignore[call-overload]
        counts[name] = int(result.rowcount)

    # Sessions dead for a while, with their old-scheme refresh tokens (ON DELETE CASCADE).
    # The margin keeps a request that is refreshing a session at the moment it dies from
    # finding it gone. Old-scheme tokens of live sessions stay: reuse detection needs them.
    dead_before = now - SESSION_MARGIN
    run(
        "sessions",
        delete(AuthSession).where(
            or_(AuthSession.expires_at <= dead_before, AuthSession.revoked_at <= dead_before)
        ),
    )
    run("email_verifications", delete(EmailVerification).where(EmailVerification.expires_at <= now))
    run(
        "password_resets",
        delete(PasswordReset).where(
            or_(PasswordReset.expires_at <= now, PasswordReset.used_at.is_not(None))
        ),
    )
    # Expired, accepted or withdrawn: the audit log keeps who invited whom and when.
    run(
        "invitations",
        delete(Invitation).where(
            or_(
                Invitation.expires_at <= now,
                Invitation.accepted_at.is_not(None),
                Invitation.withdrawn_at.is_not(None),
            )
        ),
    )
    # A login's second step past its five minutes (used or not) can never complete.
    run("mfa_challenges", delete(MfaChallengeRecord).where(MfaChallengeRecord.expires_at <= now))
    # A row whose lock and counting window have both ended counts nothing any more.
    run(
        "login_locks",
        delete(LoginLock).where(
            LoginLock.locked_until <= now,
            or_(LoginLock.window_ends.is_(None), LoginLock.window_ends <= now),
        ),
    )
    # Past `expires_at` no access token an event covers can verify anywhere (its `exp`, the
    # verifiers' leeway and clock skew are behind us: revocations.py); the feed no longer
    # returns it, and ids are never reused, so readers' cursors stay valid.
    run(
        "revocation_events",
        delete(RevocationEvent).where(RevocationEvent.expires_at <= now),
    )
    # Sent or given-up mail, kept MAIL_RETENTION_DAYS for support ("did it go out?"): its
    # bodies were blanked when it finished; pending mail is never deleted here.
    run("mail_outbox", outbox.purge_statement(now))
    # OpenID Connect codes: an hour past expiry, so that a late replay of a used one is still
    # recognized (and revokes what it issued) for a while; after that it is only unknown.
    run(
        "oidc_authorization_codes",
        delete(AuthorizationCode).where(AuthorizationCode.expires_at <= dead_before),
    )
    # Passkey ceremonies: a spent or expired challenge is refused already, whether or not
    # its row is here.
    run(
        "webauthn_challenges",
        delete(WebAuthnChallenge).where(WebAuthnChallenge.expires_at <= now),
    )
    if settings.audit_retention_days:
        cutoff = now - timedelta(days=settings.audit_retention_days)
        run("audit_events", delete(AuditEvent).where(AuditEvent.created_at < cutoff))
    db.commit()
    return counts
