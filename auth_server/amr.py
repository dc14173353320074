"""How a user proved who they are: the RFC 8176 `amr` method names a session and its
tokens carry, and the `acr` class that follows from them (OIDC Core 2). The one place these
names are spelled on the server; the client library (rozitech_auth.amr) spells the
same for verifiers, and tests/client_package/test_amr_names.py keeps both the same."""

from collections.abc import Iterable

# RFC 8176 section 2.
AMR_PASSWORD = "pwd"  # noqa: S105 - a method name, not a secret
AMR_OTP = "otp"  # a one-time password: TOTP codes and recovery codes alike
AMR_HARDWARE_KEY = "hwk"  # a passkey bound to its device
AMR_SOFTWARE_KEY = "swk"  # a passkey that can leave it (synced, multi-device)
# amr values that are a second factor.
SECOND_FACTORS = frozenset({AMR_OTP, AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY})

# The `acr` claim: a second factor was presented, or the password alone.
ACR_MFA = "urn:rozitech:acr:mfa"
ACR_PASSWORD = "urn:rozitech:acr:pwd"  # noqa: S105 - a class name, not a secret


def acr_for(amr: Iterable[str]) -> str:
    """The authentication context class of a login with these methods."""
    return ACR_MFA if SECOND_FACTORS.intersection(amr) else ACR_PASSWORD
