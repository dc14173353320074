"""The library's errors: raised by the framework-free core, turned into HTTP answers by each
framework's adapter in one place (rozitech_auth.django.exceptions, rozitech_auth.fastapi).

    AuthError
    ├── AuthServerUnavailable   outage: connection, timeout, 5xx, breaker open (503, retry)
    │   └── SigningKeyNotYetKnown
    ├── AuthServerError         an answer this client does not expect (502: deployment error)
    ├── AuthServerRejected      the server refused the call: status, code, message, field_errors
    │   └── Conflict (409) ── EmailAlreadyExists
    └── TokenError              the bearer's token is no good (401)
        ├── TokenInvalid, TokenExpired, TokenRevoked
        └── AccountInactive

An outage is never a TokenError: it must not log users out.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class AuthError(Exception):
    """Every error of this library: a stable `code` and a message for people."""

    code = "auth_error"
    message = "Authentication error"

    def __init__(self, message: str = "", code: str = "") -> None:
        self.message = message or type(self).message
        self.code = code or type(self).code
        super().__init__(self.message)


class AuthServerUnavailable(AuthError):
    """The auth server cannot answer now; retry after `retry_after` whole seconds."""

    code = "auth_service_unavailable"
    message = "The authentication service is temporarily unavailable; please retry."

    def __init__(
        self,
        message: str = "",
        retry_after: float = 1.0,
        code: str = "",
        *,
        answer_lost: bool = False,
    ) -> None:
        super().__init__(message, code)
        self.retry_after = max(1, math.ceil(retry_after))
        # The request may have been carried out and its answer lost on the way back (the
        # connection dropped, or 502/503 from a load balancer whose replica died).
        self.answer_lost = answer_lost


class SigningKeyNotYetKnown(AuthServerUnavailable):
    code = "signing_key_unknown"
    message = "The token's signing key is not known yet; please retry."


class AuthServerError(AuthError):
    """The auth server answered something this client does not expect (404, 3xx, not JSON,
    our own credential refused): a deployment or version mismatch, not the caller's fault."""

    code = "auth_server_error"
    message = "Unexpected answer from the authentication service"


class AuthServerRejected(AuthError):
    """The auth server refused the call (4xx in its envelope): wrong password, a field
    error, not permitted, rate-limited (`retry_after`)."""

    def __init__(
        self,
        status: int,
        code: str = "",
        message: str = "",
        field_errors: Mapping[str, Sequence[str]] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message or f"Refused by the authentication service (HTTP {status})", code)
        self.status = status
        # Set only when the server sent one (the message is then its own).
        self.server_message = message
        self.field_errors = dict(field_errors or {})
        self.retry_after = retry_after


class Conflict(AuthServerRejected):
    code = "conflict"


class EmailAlreadyExists(Conflict):
    code = "email_exists"
    message = "An account with this email already exists"


class TokenError(AuthError):
    """The presented token does not authenticate anyone (401)."""

    code = "invalid_token"
    message = "Invalid token"


class TokenInvalid(TokenError):
    pass


class TokenExpired(TokenError):
    code = "token_expired"
    message = "Token has expired"


class TokenRevoked(TokenError):
    code = "token_revoked"
    message = "Token has been revoked"


class AccountInactive(TokenError):
    code = "user_inactive"
    message = "User inactive or deleted"


# The seed's name for AuthServerUnavailable (core.auth_client.AuthServiceUnavailable).
AuthServiceUnavailable = AuthServerUnavailable
