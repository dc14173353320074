"""Passkeys of a user: register, list, rename, delete; sign in with one (passwordless) or
prove one as the second factor of a pending login.

The WebAuthn protocol (options, attestation and assertion checks) is py_webauthn's; this
module decides which challenge, which origins and which passkey an answer must match.
"""

from __future__ import annotations

import json
import uuid
from hmac import compare_digest
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from webauthn import (
    base64url_to_bytes,
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    bytes_to_base64url,
    parse_authentication_credential_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    RegistrationCredential,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from auth_server.amr import AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.errors import (
    AccountDisabled,
    AuthError,
    EmailNotVerified,
    InvalidMfaToken,
    InvalidPasskeyResponse,
    PasskeyExists,
    PasskeyNotFound,
    UnknownPasskey,
)
from auth_server.mfa.challenges import MfaChallenges, PendingLogin
from auth_server.models import User
from auth_server.passkeys.ceremonies import CEREMONY_SECONDS, Ceremonies, Purpose
from auth_server.passkeys.models import Passkey
from auth_server.ratelimit import RateLimits
from auth_server.sessions import ClientInfo, Identity, load_identity

DEFAULT_NAME = "Passkey"
# What an answer may fail by, in py_webauthn and in decoding its base64url and JSON.
_BAD_ANSWER = (WebAuthnException, ValueError, TypeError, KeyError)


def amr_of(passkey: Passkey) -> str:
    """The passkey's amr value: "hwk" bound to its device, "swk" synced (multi-device)."""
    single = passkey.device_type == CredentialDeviceType.SINGLE_DEVICE
    return AMR_HARDWARE_KEY if single else AMR_SOFTWARE_KEY


def options_json(options: Any) -> dict[str, Any]:
    """py_webauthn's options as the JSON object a browser's WebAuthn call takes."""
    data: dict[str, Any] = json.loads(options_to_json(options))
    return data


class Passkeys:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        limits: RateLimits,
        audit: AuditLog,
        mfa_challenges: MfaChallenges,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.limits = limits
        self.audit = audit
        self.mfa_challenges = mfa_challenges
        self.ceremonies = Ceremonies(clock)

    # -- the user's passkeys -------------------------------------------------------------

    def of_user(self, db: Session, user_id: uuid.UUID) -> list[Passkey]:
        return list(
            db.scalars(
                select(Passkey).where(Passkey.user_id == user_id).order_by(Passkey.created_at)
            )
        )

    def registration_options(self, db: Session, user: User, client: ClientInfo) -> dict[str, Any]:
        # Every call writes a row: bounded per address like the other writing endpoints.
        self.limits.hit_ip("passkey-options", client.ip_address)
        options = generate_registration_options(
            rp_id=self.settings.webauthn_rp_id,
            rp_name=self.settings.webauthn_rp_name,
            user_name=user.email,
            # The user's id, not the e-mail: authenticators may show or sync the handle.
            user_id=user.id.bytes,
            user_display_name=user.full_name or user.email,
            challenge=self.ceremonies.begin(db, Purpose.REGISTER, user_id=user.id),
            timeout=CEREMONY_SECONDS * 1000,
            # Discoverable where the authenticator can: the passkey then signs in alone.
            authenticator_selection=AuthenticatorSelectionCriteria(
                resident_key=ResidentKeyRequirement.PREFERRED,
                user_verification=UserVerificationRequirement.PREFERRED,
            ),
            # An authenticator that already holds one of the user's passkeys declines.
            exclude_credentials=self._descriptors(db, user.id),
        )
        return options_json(options)

    def register(
        self, db: Session, user: User, credential: Any, name: str, client: ClientInfo
    ) -> Passkey:
        """Verifies the answer to `registration_options` and stores the passkey, committed."""
        parsed = _attestation(credential)
        challenge = self.ceremonies.spend(
            db, parsed.response.client_data_json, Purpose.REGISTER, user_id=user.id
        )
        try:
            verified = verify_registration_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.settings.webauthn_rp_id,
                expected_origin=self.settings.webauthn_origin_list,
            )
        except _BAD_ANSWER as exc:
            raise InvalidPasskeyResponse() from exc
        passkey = Passkey(
            id=uuid.uuid4(),  # now, for the audit row's details
            user_id=user.id,
            credential_id=bytes_to_base64url(verified.credential_id),
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=[transport.value for transport in parsed.response.transports or []],
            name=name.strip() or DEFAULT_NAME,
            aaguid=verified.aaguid,
            device_type=verified.credential_device_type.value,
            backed_up=verified.credential_backed_up,
            created_at=self.clock.now(),
        )
        db.add(passkey)
        self.audit.add(
            db,
            "passkey_added",
            client=client,
            user_id=user.id,
            details={"passkey": str(passkey.id)},
        )
        try:
            db.commit()
        except IntegrityError as exc:
            # The credential id is unique: registered already (by this user or another).
            db.rollback()
            raise PasskeyExists() from exc
        return passkey

    def rename(
        self, db: Session, user: User, passkey_id: uuid.UUID, name: str, client: ClientInfo
    ) -> Passkey:
        passkey = self._own(db, user, passkey_id)
        passkey.name = name.strip() or DEFAULT_NAME
        self.audit.add(
            db,
            "passkey_renamed",
            client=client,
            user_id=user.id,
            details={"passkey": str(passkey_id)},
        )
        db.commit()
        return passkey

    def remove(self, db: Session, user: User, passkey_id: uuid.UUID, client: ClientInfo) -> None:
        passkey = self._own(db, user, passkey_id)
        db.delete(passkey)
        self.audit.add(
            db,
            "passkey_removed",
            client=client,
            user_id=user.id,
            details={"passkey": str(passkey_id)},
        )
        db.commit()

    def _own(self, db: Session, user: User, passkey_id: uuid.UUID) -> Passkey:
        passkey = db.get(Passkey, passkey_id)
        # Someone else's passkey is "not found" too: its id tells nothing.
        if passkey is None or passkey.user_id != user.id:
            raise PasskeyNotFound()
        return passkey

    def _descriptors(self, db: Session, user_id: uuid.UUID) -> list[PublicKeyCredentialDescriptor]:
        return [
            PublicKeyCredentialDescriptor(id=base64url_to_bytes(passkey.credential_id))
            for passkey in self.of_user(db, user_id)
        ]

    # -- passwordless sign-in -----------------------------------------------------------

    def login_options(self, db: Session, client: ClientInfo) -> dict[str, Any]:
        """Options for a passwordless sign-in: no user named, any discoverable passkey."""
        self.limits.hit_ip("passkey-login", client.ip_address)
        options = generate_authentication_options(
            rp_id=self.settings.webauthn_rp_id,
            challenge=self.ceremonies.begin(db, Purpose.LOGIN),
            timeout=CEREMONY_SECONDS * 1000,
            # Alone, the passkey is both factors: something held and a PIN or biometric.
            user_verification=UserVerificationRequirement.REQUIRED,
        )
        return options_json(options)

    def identify(self, db: Session, credential: Any, client: ClientInfo) -> Identity:
        """The user a passwordless answer proves, as `Login.identify` gives one for a
        password; the refusals (unknown passkey, disabled or unverified account) are
        audited. The caller issues the session with `Login.issue_tokens` or
        `issue_browser_session`, which commit the passkey's new counter too."""
        self.limits.hit_ip("passkey-login", client.ip_address)
        parsed = _assertion(credential)
        challenge = self.ceremonies.spend(db, parsed.response.client_data_json, Purpose.LOGIN)
        passkey = db.scalar(select(Passkey).where(Passkey.credential_id == parsed.id))
        if passkey is None:
            raise UnknownPasskey()
        # With the cutoffs: the identity's claims go into the login's token.
        user = load_identity(db, passkey.user_id, cutoffs=True)
        assert user is not None
        handle = parsed.response.user_handle
        # The handle the authenticator stored must be this passkey's user (constant time).
        if handle is not None and not compare_digest(handle, user.id.bytes):
            raise self._refused(db, user, client, InvalidPasskeyResponse())
        try:
            amr = self._verify(passkey, parsed, challenge, require_user_verification=True)
        except InvalidPasskeyResponse as exc:
            raise self._refused(db, user, client, exc) from exc
        # The same gates as a password login, after the proof: no account state leaks.
        if not user.is_active:
            raise self._refused(db, user, client, AccountDisabled())
        if not user.email_verified:
            raise self._refused(db, user, client, EmailNotVerified())
        return Identity(user=user, credentials_version=user.credentials_version, amr=(amr,))

    def _refused(self, db: Session, user: User, client: ClientInfo, exc: AuthError) -> AuthError:
        db.rollback()
        self.audit.record(
            db,
            "login_failed",
            client=client,
            outcome="failure",
            email=user.email,
            user_id=user.id,
            details={"reason": exc.code, "via": "passkey"},
        )
        return exc

    # -- the second factor of a password login -------------------------------------------

    def second_factor_options(
        self, db: Session, mfa_token: str, client: ClientInfo
    ) -> dict[str, Any]:
        """Options for the pending login of `mfa_token`: one of the user's passkeys."""
        self.limits.hit_ip("passkey-mfa", client.ip_address)
        pending = _with_factor(self.mfa_challenges.pending(db, mfa_token, client))
        user_id = pending.identity.user.id
        options = generate_authentication_options(
            rp_id=self.settings.webauthn_rp_id,
            challenge=self.ceremonies.begin(
                db, Purpose.MFA, user_id=user_id, login_challenge_id=pending.challenge_id
            ),
            timeout=CEREMONY_SECONDS * 1000,
            allow_credentials=self._descriptors(db, user_id),
            # The password was the first factor: presence of the key is the second.
            user_verification=UserVerificationRequirement.PREFERRED,
        )
        return options_json(options)

    def second_factor(
        self, db: Session, pending: PendingLogin, credential: Any, client: ClientInfo
    ) -> Identity:
        """The pending login's identity with "hwk" or "swk" added when the answer is one of
        the user's passkeys signing this login's challenge; the challenge spent, not
        committed (issuing the session commits, with the passkey's counter). Anything
        else counts as a wrong factor (MfaChallenges.failed)."""
        user_id = _with_factor(pending).identity.user.id
        try:
            parsed = _assertion(credential)
            challenge = self.ceremonies.spend(
                db,
                parsed.response.client_data_json,
                Purpose.MFA,
                user_id=user_id,
                login_challenge_id=pending.challenge_id,
            )
            # Only the user's own passkeys: another account's is as wrong as a bad code.
            passkey = db.scalar(
                select(Passkey).where(
                    Passkey.credential_id == parsed.id, Passkey.user_id == user_id
                )
            )
            if passkey is None:
                raise UnknownPasskey()
            amr = self._verify(passkey, parsed, challenge, require_user_verification=False)
        except AuthError:
            self.mfa_challenges.failed(db, pending, client)
        return self.mfa_challenges.passed(db, pending, amr)

    # -- the answer ---------------------------------------------------------------------

    def _verify(
        self,
        passkey: Passkey,
        parsed: AuthenticationCredential,
        challenge: bytes,
        *,
        require_user_verification: bool,
    ) -> str:
        """Checks the assertion against the stored public key and counter; on success the
        passkey's counter, backup state and last use are updated (the caller commits) and
        its amr value is returned."""
        try:
            verified = verify_authentication_response(
                credential=parsed,
                expected_challenge=challenge,
                expected_rp_id=self.settings.webauthn_rp_id,
                expected_origin=self.settings.webauthn_origin_list,
                credential_public_key=passkey.public_key,
                # A counter that does not grow (when the authenticator keeps one) is refused:
                # the sign of a cloned authenticator.
                credential_current_sign_count=passkey.sign_count,
                require_user_verification=require_user_verification,
            )
        except _BAD_ANSWER as exc:
            raise InvalidPasskeyResponse() from exc
        passkey.sign_count = verified.new_sign_count
        passkey.device_type = verified.credential_device_type.value
        passkey.backed_up = verified.credential_backed_up
        passkey.last_used_at = self.clock.now()
        return amr_of(passkey)


def _with_factor(pending: PendingLogin) -> PendingLogin:
    # A login a policy sent to enrol a first factor has no passkey to prove yet.
    if pending.setup_required:
        raise InvalidMfaToken()
    return pending


def delete_passkeys(db: Session, user_id: uuid.UUID) -> int:
    """Deletes every passkey of the user (an admin's reset of the factors); the caller
    audits and commits. Returns how many there were."""
    deleted = db.execute(delete(Passkey).where(Passkey.user_id == user_id))
    return int(deleted.rowcount)  # type: ignore[attr-defined]


def _attestation(credential: Any) -> RegistrationCredential:
    """A browser's registration credential (its JSON); InvalidPasskeyResponse if malformed."""
    try:
        return parse_registration_credential_json(_object(credential))
    except _BAD_ANSWER as exc:
        raise InvalidPasskeyResponse() from exc


def _assertion(credential: Any) -> AuthenticationCredential:
    """A browser's authentication credential (its JSON); InvalidPasskeyResponse if malformed."""
    try:
        return parse_authentication_credential_json(_object(credential))
    except _BAD_ANSWER as exc:
        raise InvalidPasskeyResponse() from exc


def _object(credential: Any) -> dict[str, Any]:
    if not isinstance(credential, dict):
        raise InvalidPasskeyResponse()
    return credential
