"""Accounts: sign-up with its organization and trial licenses, e-mail verification, the admin."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from confusable_homoglyphs import confusables
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from auth_server.config import Settings
from auth_server.errors import EmailExists, InvalidCode, TooManyAttempts, ValidationFailed
from auth_server.i18n import DEFAULT_LOCALE
from auth_server.models import EmailVerification, License, Membership, Organization, User, utcnow
from auth_server.outbox import MailOutbox, RenderedMail
from auth_server.passwords import Passwords, password_problems


def normalize_email(email: str) -> str:
    """The one form an address is stored, compared and counted in.

    NFKC first: addresses that differ only by Unicode compatibility forms (full-width
    letters, ligatures) are one address, not two accounts. Then lower case, as always.
    """
    return unicodedata.normalize("NFKC", email.strip()).lower()


def looks_deceptive(email: str) -> bool:
    """True when the local part or the domain mixes scripts with look-alike letters
    (a Cyrillic a, U+0430, among Latin ones): such an address impersonates another."""
    return any(confusables.is_dangerous(part) for part in email.rsplit("@", 1))


def user_id_of(db: Session, email: str) -> uuid.UUID | None:
    """The account of an address, for the audit log only; never changes an answer."""
    return db.scalar(select(User.id).where(User.email == normalize_email(email)))


# The users.email column's length (RFC 5321's limit on a forward path).
MAX_EMAIL_LENGTH = 254


def slugify(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60].strip("-")
    return slug or "org"


def new_verification_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


@dataclass(frozen=True)
class SignupRequest:
    email: str
    password: str
    first_name: str
    last_name: str
    company: str
    phone: str | None
    products: list[str]
    # The language of the verification mail (negotiated from the request).
    locale: str = DEFAULT_LOCALE


# Joins a new account to an existing organization instead of creating one (an invitation,
# invitations.Invitations.joiner); called in the sign-up's transaction, before its commit.
Joiner = Callable[[Session, User], Membership]


@dataclass(frozen=True)
class SignupResult:
    user: User
    organization: Organization


@dataclass(frozen=True)
class AdminBootstrap:
    """What `create-admin` did, and the staff organization's id (the SaaS Admin's staff are
    its owners and admins: SAAS_ADMIN_STAFF_ORGANIZATION_ID)."""

    created: bool
    organization_id: uuid.UUID


class Accounts:
    def __init__(self, settings: Settings, passwords: Passwords, outbox: MailOutbox) -> None:
        self.settings = settings
        self.passwords = passwords
        self.outbox = outbox

    # -- sign-up -----------------------------------------------------------------

    def signup(
        self, db: Session, request: SignupRequest, join: Joiner | None = None
    ) -> SignupResult:
        """The account, unverified, with a new organization it owns (trial licenses of
        `products`), or joined by `join` to an existing one; committed."""
        email = normalize_email(request.email)
        self._check_signup(request, email, joining=join is not None)
        password_hash = self.passwords.hash(request.password)
        code = new_verification_code()
        code_hash = self.passwords.hash(code)
        # Two tries: the second only when a concurrent sign-up took the same slug.
        for attempt in range(2):
            if db.scalar(select(User.id).where(User.email == email)) is not None:
                raise EmailExists()
            # Read before anything is written: the transaction writes nothing until its commit.
            slug = "" if join else self.free_slug(db, request.company, force_suffix=attempt > 0)
            user = self._user(request, email, password_hash)
            db.add_all([user, self._verification(user, code_hash, utcnow())])
            # In the sign-up's transaction: the code is mailed if and only if it commits.
            self.outbox.add(db, email, self._code_mail(code, request.locale))
            try:
                if join is None:
                    org = self._create_organization(db, request, user, slug)
                else:
                    db.flush()  # the user row first: the membership refers to it
                    org = join(db, user).organization
                db.commit()
            except IntegrityError:
                # The unique index settles a race between two sign-ups: one wins, one gets 409.
                db.rollback()
                continue
            return SignupResult(user=user, organization=org)
        raise EmailExists()

    def _check_signup(self, request: SignupRequest, email: str, *, joining: bool) -> None:
        errors: dict[str, list[str]] = {}
        # Joining an organization needs no company: the account makes none.
        if not joining and not request.company.strip():
            errors["company"] = ["Field required"]
        # The normalized form is what is stored: it must fit the column (NFKC can expand).
        if len(email) > MAX_EMAIL_LENGTH:
            errors["email"] = [f"Must be at most {MAX_EMAIL_LENGTH} characters"]
        elif looks_deceptive(email):
            errors["email"] = ["Must not mix scripts with look-alike characters"]
        problems = password_problems(request.password, email)
        if problems:
            errors["password"] = problems
        unknown = sorted(set(request.products) - self.settings.product_codes)
        if unknown:
            errors["products"] = [f"Unknown product: {code}" for code in unknown]
        if errors:
            raise ValidationFailed(errors=errors)

    def free_slug(self, db: Session, company: str, *, force_suffix: bool) -> str:
        slug = slugify(company)
        # The admin organization's slug is reserved: a sign-up as "ROZITECH!" must never
        # hold it, or `create-admin` could not create the staff organization under it.
        taken = force_suffix or slug == self.admin_slug
        if taken or db.scalar(select(Organization.id).where(Organization.slug == slug)):
            slug = f"{slug}-{secrets.token_hex(3)}"
        return slug

    @property
    def admin_slug(self) -> str:
        return slugify(self.settings.admin_organization)

    def _user(self, request: SignupRequest, email: str, password_hash: str) -> User:
        return User(
            id=uuid.uuid4(),
            email=email,
            password_hash=password_hash,
            first_name=request.first_name.strip(),
            last_name=request.last_name.strip(),
            phone=request.phone,
        )

    def _create_organization(
        self, db: Session, request: SignupRequest, user: User, slug: str
    ) -> Organization:
        org = Organization(id=uuid.uuid4(), name=request.company.strip(), slug=slug)
        db.add(org)
        db.add(Membership(user=user, organization=org, role="owner"))
        trial_end = utcnow() + timedelta(days=self.settings.trial_days)
        for code in dict.fromkeys(request.products):
            db.add(
                License(organization=org, product_code=code, status="trial", expires_at=trial_end)
            )
        return org

    def _verification(self, user: User, code_hash: str, now: datetime) -> EmailVerification:
        return EmailVerification(
            user=user,
            code_hash=code_hash,
            expires_at=now + timedelta(seconds=self.settings.verification_code_ttl),
            attempts=0,
        )

    def _code_mail(self, code: str, locale: str) -> RenderedMail:
        return self.outbox.render(
            "verification_code",
            locale,
            code=code,
            minutes=self.settings.verification_code_ttl // 60,
        )

    # -- e-mail verification -----------------------------------------------------------

    def verify_email(self, db: Session, email: str, code: str) -> User:
        email = normalize_email(email)
        user = db.scalar(select(User).where(User.email == email))
        pending = db.get(EmailVerification, user.id) if user and not user.email_verified else None
        if pending is None or user is None:
            # Same work as a real check, so the answer does not tell whether the account exists.
            self.passwords.verify(None, code)
            raise InvalidCode()
        now = utcnow()
        if pending.expires_at <= now:
            raise InvalidCode()
        max_attempts = self.settings.verification_max_attempts
        # Count the try before checking it, atomically, so parallel guesses share the budget.
        counted = db.execute(
            update(EmailVerification)
            .where(EmailVerification.user_id == user.id, EmailVerification.attempts < max_attempts)
            .values(attempts=EmailVerification.attempts + 1)
        )
        db.commit()
        if counted.rowcount == 0:  # type: ignore[attr-defined]
            retry_after = max(1, int((pending.expires_at - now).total_seconds()))
            raise TooManyAttempts(retry_after=retry_after)
        if not self.passwords.verify(pending.code_hash, code):
            raise InvalidCode()
        # Single use: the code is deleted with the same commit that verifies the address.
        db.execute(delete(EmailVerification).where(EmailVerification.user_id == user.id))
        user.email_verified = True
        db.commit()
        return user

    def resend_verification(
        self, db: Session, email: str, *, locale: str = DEFAULT_LOCALE
    ) -> User | None:
        """Replaces the pending code and mails it (one commit); the user, if there is one."""
        email = normalize_email(email)
        code = new_verification_code()
        # Hashed (and its mail rendered) before the look-up so both outcomes cost the
        # same time.
        code_hash = self.passwords.hash(code)
        mail = self._code_mail(code, locale)
        user = db.scalar(select(User).where(User.email == email))
        if user is None or user.email_verified or not user.is_active:
            return None
        db.execute(delete(EmailVerification).where(EmailVerification.user_id == user.id))
        db.add(self._verification(user, code_hash, utcnow()))
        self.outbox.add(db, user.email, mail)
        db.commit()
        return user

    # -- the first admin -------------------------------------------------------------

    def ensure_admin(self, db: Session, password: str) -> AdminBootstrap:
        """Create the first admin and the staff organization (slug: ADMIN_ORGANIZATION's,
        reserved), or find them; refuses when that slug is held by anyone else."""
        email = self.settings.admin_email
        slug = self.admin_slug
        org = db.scalar(select(Organization).where(Organization.slug == slug))
        admin = db.scalar(select(User).where(User.email == email))
        if admin is not None:
            owned = org is not None and any(
                m.organization_id == org.id and m.role == "owner" for m in admin.memberships
            )
            if org is None or not owned:
                # Never name someone else's organization as the staff one (its owners and
                # admins get the SaaS Admin's superuser rights).
                raise ValidationFailed(
                    errors={"ADMIN_ORGANIZATION": [f"{slug!r} is not an organization {email} owns"]}
                )
            return AdminBootstrap(created=False, organization_id=org.id)
        if org is not None:
            # Refused, never suffixed: the staff organization must be the one named.
            raise ValidationFailed(
                errors={"ADMIN_ORGANIZATION": [f"the slug {slug!r} is taken by another account"]}
            )
        problems = password_problems(password, email)
        if problems:
            raise ValidationFailed(errors={"ADMIN_PASSWORD": problems})
        user = User(
            email=email,
            password_hash=self.passwords.hash(password),
            first_name="Admin",
            last_name=self.settings.admin_organization,
            email_verified=True,
        )
        org = Organization(
            id=uuid.uuid4(),
            name=self.settings.admin_organization,
            slug=slug,
            # Staff sign in to billing: in production they must use MFA (owners may change it).
            mfa_required=self.settings.is_production,
        )
        db.add_all([user, org, Membership(user=user, organization=org, role="owner")])
        for code in sorted(self.settings.product_codes):
            db.add(License(organization=org, product_code=code, status="active", expires_at=None))
        db.commit()
        return AdminBootstrap(created=True, organization_id=org.id)
