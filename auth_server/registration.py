"""Sign-up and e-mail verification as use cases: limits, the domain work, the audit rows.

One flow for the JSON API and the hosted pages. Mail is not sent here: the caller hands
the returned code to `Accounts.send_verification_code` after its answer.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from auth_server.accounts import Accounts, SignupRequest, SignupResult, normalize_email, user_id_of
from auth_server.audit import AuditLog, failures_audited
from auth_server.models import User
from auth_server.ratelimit import RateLimits
from auth_server.sessions import ClientInfo


class Registration:
    def __init__(self, accounts: Accounts, limits: RateLimits, audit: AuditLog) -> None:
        self.accounts = accounts
        self.limits = limits
        self.audit = audit

    def signup(self, db: Session, request: SignupRequest, client: ClientInfo) -> SignupResult:
        """The account, its organization and a verification code to mail."""
        # Per IP and per address: sign-up mails a code, so it must not be a spam cannon.
        self.limits.hit_ip("signup", client.ip_address)
        self.limits.hit_account("signup", request.email)
        email = normalize_email(request.email)
        with failures_audited(self.audit, db, "signup", client=client, email=email):
            result = self.accounts.signup(db, request)
        user = result.user
        self.audit.record(db, "signup", client=client, email=user.email, user_id=user.id)
        return result

    def verify_email(self, db: Session, email: str, code: str, client: ClientInfo) -> User:
        # Beside the per-code try limit: caps guessing across fresh codes too.
        self.limits.hit_ip("verify-email", client.ip_address)
        self.limits.hit_account("verify-email", email)
        email = normalize_email(email)
        with failures_audited(
            self.audit,
            db,
            "email_verified",
            client=client,
            email=email,
            user_id=user_id_of(db, email),
        ):
            user = self.accounts.verify_email(db, email, code)
        self.audit.record(db, "email_verified", client=client, email=user.email, user_id=user.id)
        return user

    def resend_verification(
        self, db: Session, email: str, client: ClientInfo
    ) -> tuple[User, str] | None:
        """A new code to mail, if the address awaits verification; the caller answers the
        same either way (no enumeration)."""
        # Counted for unknown addresses too: the 429 says nothing about the account.
        self.limits.hit_ip("resend-verification", client.ip_address)
        self.limits.hit_account("resend-verification", email)
        return self.accounts.resend_verification(db, email)
