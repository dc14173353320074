"""Domain errors, each with an HTTP status and a stable machine-readable code."""

from __future__ import annotations

import uuid

from auth_server.i18n import N_


class AuthError(Exception):
    """Base of every error the API reports in its envelope."""

    status_code = 400
    code = "bad_request"
    message = N_("Bad request")
    # The WWW-Authenticate challenge of a 401 ("{code}" is replaced by the error's code).
    challenge = 'Bearer error="{code}"'

    def __init__(
        self,
        message: str | None = None,
        *,
        errors: dict[str, list[str]] | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.message = message or self.message
        self.errors = errors
        self.retry_after = retry_after
        super().__init__(self.message)


class ValidationFailed(AuthError):
    code = "validation_error"
    message = N_("Some fields are invalid")


class EmailExists(AuthError):
    status_code = 409
    code = "email_exists"
    message = N_("An account with this email already exists")


class InvalidCode(AuthError):
    code = "invalid_code"
    message = N_("The verification code is invalid or has expired")


class TooManyAttempts(AuthError):
    status_code = 429
    code = "too_many_attempts"
    message = N_("Too many wrong codes; request a new code")


class InvalidCredentials(AuthError):
    status_code = 401
    code = "invalid_credentials"
    message = N_("Invalid email or password")


class CredentialsChanged(AuthError):
    """The password was right, but a reset, change, disable or logout-all committed while
    it was being checked: no session. Not a failed guess, so not counted toward a lock."""

    status_code = 401
    code = "invalid_credentials"
    message = N_("Your credentials changed while signing in; please sign in again")


class EmailNotVerified(AuthError):
    status_code = 403
    code = "email_not_verified"
    message = N_("Please verify your email address before logging in")


class AccountDisabled(AuthError):
    status_code = 403
    code = "account_disabled"
    message = N_("This account has been disabled")


class InvalidRefreshToken(AuthError):
    status_code = 401
    code = "invalid_refresh_token"
    message = N_("Invalid or expired refresh token")


class InvalidToken(AuthError):
    status_code = 401
    code = "invalid_token"
    message = N_("Invalid or expired token")


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated refresh token came back after the grace window; the family is revoked.

    Same status, code and message as any invalid refresh token: only the audit log tells.
    """

    session_id: uuid.UUID | None = None


class RateLimited(AuthError):
    status_code = 429
    code = "rate_limited"
    message = N_("Too many requests; try again later")


class InvalidResetToken(AuthError):
    code = "invalid_token"
    message = N_("This reset link is invalid, expired or already used")


class SessionNotFound(AuthError):
    status_code = 404
    code = "session_not_found"
    message = N_("No such active session")


class WrongCurrentPassword(AuthError):
    code = "invalid_current_password"
    message = N_("The current password is not correct")


class InvalidServiceToken(AuthError):
    status_code = 401
    code = "invalid_service_token"
    message = N_("A valid service token is required (X-Service-Token header)")
    # Not a Bearer scheme: user access tokens are never accepted here, nor this one there.
    challenge = 'ServiceToken realm="auth-server", error="{code}"'


class UserNotFound(AuthError):
    status_code = 404
    code = "user_not_found"
    message = N_("No such user")


class OrganizationNotFound(AuthError):
    status_code = 404
    code = "organization_not_found"
    message = N_("No such organization")


class UnknownProduct(AuthError):
    code = "unknown_product"
    message = N_("Unknown product code")


class LicenseVersionConflict(AuthError):
    status_code = 409
    code = "version_conflict"
    message = N_("This license version is already stored with different content")


class ClientNotFound(AuthError):
    status_code = 404
    code = "client_not_found"
    message = "No such client"


class PublicClientHasNoSecret(AuthError):
    code = "public_client"
    message = "A public client has no secret to rotate"


class CsrfFailed(AuthError):
    """A form post without this browser's CSRF token, or sent from another site."""

    status_code = 403
    code = "csrf_failed"
    message = N_("This form has expired or was not sent from this site; please try again")


class InsufficientRole(AuthError):
    status_code = 403
    code = "insufficient_role"
    message = N_("Your role in this organization does not allow this")


class LastOwner(AuthError):
    status_code = 409
    code = "last_owner"
    message = N_("An organization must keep at least one owner")


class MemberNotFound(AuthError):
    status_code = 404
    code = "member_not_found"
    message = N_("No such member of this organization")


class AlreadyMember(AuthError):
    status_code = 409
    code = "already_member"
    message = N_("This person is already a member of the organization")


class SeatLimitReached(AuthError):
    status_code = 409
    code = "seat_limit_reached"
    message = N_("The organization's plan has no free seat; remove a member or upgrade")


class InvitationNotFound(AuthError):
    status_code = 404
    code = "invitation_not_found"
    message = N_("No such pending invitation")


class InvalidInvitation(AuthError):
    code = "invalid_invitation"
    message = N_("This invitation is invalid, expired, withdrawn or already used")


class InvitationEmailMismatch(AuthError):
    status_code = 403
    code = "invitation_email_mismatch"
    message = N_("This invitation was sent to another e-mail address")


class InvalidMfaToken(AuthError):
    """The mfaToken of a login's second step is unknown, expired, used, ended, or was
    issued to another client address: the login starts again with the password."""

    status_code = 401
    code = "invalid_mfa_token"
    message = N_("This sign-in attempt has expired; please sign in again")


class InvalidMfaCode(AuthError):
    status_code = 401
    code = "invalid_mfa_code"
    message = N_("The code is not correct")


class MfaAlreadyEnabled(AuthError):
    status_code = 409
    code = "mfa_already_enabled"
    message = N_("An authenticator app is already set up; disable it first")


class MfaNotEnabled(AuthError):
    status_code = 404
    code = "mfa_not_enabled"
    message = N_("No authenticator app is set up")


class MfaSetupNotStarted(AuthError):
    status_code = 409
    code = "mfa_setup_not_started"
    message = N_("Start the authenticator app setup first")


class InvalidPasskeyResponse(AuthError):
    """A passkey's answer that is malformed or fails verification (signature, origin,
    relying party, user presence or verification, a signature counter that went back)."""

    code = "invalid_passkey_response"
    message = N_("The passkey's answer could not be verified")


class InvalidPasskeyChallenge(AuthError):
    """The ceremony the answer signs is unknown, expired, already used or someone else's."""

    code = "invalid_passkey_challenge"
    message = N_("This passkey request has expired or was already used; please try again")


class UnknownPasskey(AuthError):
    status_code = 401
    code = "unknown_passkey"
    message = N_("This passkey is not registered here")


class PasskeyNotFound(AuthError):
    status_code = 404
    code = "passkey_not_found"
    message = N_("No such passkey")


class PasskeyExists(AuthError):
    status_code = 409
    code = "passkey_exists"
    message = N_("This passkey is already registered")
