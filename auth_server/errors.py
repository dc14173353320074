"""Domain errors, each with an HTTP status and a stable machine-readable code."""

from __future__ import annotations

import uuid


class AuthError(Exception):
    """Base of every error the API reports in its envelope."""

    status_code = 400
    code = "bad_request"
    message = "Bad request"
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
    message = "Some fields are invalid"


class EmailExists(AuthError):
    status_code = 409
    code = "email_exists"
    message = "An account with this email already exists"


class InvalidCode(AuthError):
    code = "invalid_code"
    message = "The verification code is invalid or has expired"


class TooManyAttempts(AuthError):
    status_code = 429
    code = "too_many_attempts"
    message = "Too many wrong codes; request a new code"


class InvalidCredentials(AuthError):
    status_code = 401
    code = "invalid_credentials"
    message = "Invalid email or password"


class CredentialsChanged(AuthError):
    """The password was right, but a reset, change, disable or logout-all committed while
    it was being checked: no session. Not a failed guess, so not counted toward a lock."""

    status_code = 401
    code = "invalid_credentials"
    message = "Your credentials changed while signing in; please sign in again"


class EmailNotVerified(AuthError):
    status_code = 403
    code = "email_not_verified"
    message = "Please verify your email address before logging in"


class AccountDisabled(AuthError):
    status_code = 403
    code = "account_disabled"
    message = "This account has been disabled"


class InvalidRefreshToken(AuthError):
    status_code = 401
    code = "invalid_refresh_token"
    message = "Invalid or expired refresh token"


class InvalidToken(AuthError):
    status_code = 401
    code = "invalid_token"
    message = "Invalid or expired token"


class RefreshTokenReused(InvalidRefreshToken):
    """A rotated refresh token came back after the grace window; the family is revoked.

    Same status, code and message as any invalid refresh token: only the audit log tells.
    """

    session_id: uuid.UUID | None = None


class RateLimited(AuthError):
    status_code = 429
    code = "rate_limited"
    message = "Too many requests; try again later"


class InvalidResetToken(AuthError):
    code = "invalid_token"
    message = "This reset link is invalid, expired or already used"


class SessionNotFound(AuthError):
    status_code = 404
    code = "session_not_found"
    message = "No such active session"


class WrongCurrentPassword(AuthError):
    code = "invalid_current_password"
    message = "The current password is not correct"


class InvalidServiceToken(AuthError):
    status_code = 401
    code = "invalid_service_token"
    message = "A valid service token is required (X-Service-Token header)"
    # Not a Bearer scheme: user access tokens are never accepted here, nor this one there.
    challenge = 'ServiceToken realm="auth-server", error="{code}"'


class UserNotFound(AuthError):
    status_code = 404
    code = "user_not_found"
    message = "No such user"


class OrganizationNotFound(AuthError):
    status_code = 404
    code = "organization_not_found"
    message = "No such organization"


class UnknownProduct(AuthError):
    code = "unknown_product"
    message = "Unknown product code"


class LicenseVersionConflict(AuthError):
    status_code = 409
    code = "version_conflict"
    message = "This license version is already stored with different content"


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
    message = "This form has expired or was not sent from this site; please try again"
