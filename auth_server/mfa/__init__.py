"""Multi-factor authentication: TOTP factors, recovery codes, and the login's second step."""

from collections.abc import Iterable

# RFC 8176 values: a one-time password (TOTP and recovery codes alike).
AMR_OTP = "otp"
# The methods a login's second step may offer (MfaChallenge.methods, `methods` of the API).
METHOD_TOTP = "totp"
METHOD_RECOVERY_CODE = "recovery_code"
METHOD_WEBAUTHN = "webauthn"  # a passkey (auth_server/passkeys)
# The `acr` claim: a second factor was presented, or the password alone.
ACR_MFA = "urn:rozitech:acr:mfa"
ACR_PASSWORD = "urn:rozitech:acr:pwd"  # noqa: S105 - a class name, not a secret
# amr values that are a second factor (TOTP or recovery code; passkeys: hwk, swk).
SECOND_FACTORS = frozenset({AMR_OTP, "hwk", "swk"})


def acr_for(amr: Iterable[str]) -> str:
    """The authentication context class of a login with these methods."""
    return ACR_MFA if SECOND_FACTORS.intersection(amr) else ACR_PASSWORD
