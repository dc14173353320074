"""How the user proved who they are, as the auth server's tokens say it: the RFC 8176 `amr`
method names and the `acr` classes (OIDC Core 2), for services that demand a second factor.

The auth server spells the same names in auth_server/amr.py (it does not depend on this
package); a test in the repository checks that both agree.
"""

from __future__ import annotations

from collections.abc import Iterable

# RFC 8176 section 2.
AMR_PASSWORD = "pwd"  # noqa: S105 - a method name, not a secret
AMR_OTP = "otp"  # a one-time password: TOTP codes and recovery codes alike
AMR_HARDWARE_KEY = "hwk"  # a passkey bound to its device
AMR_SOFTWARE_KEY = "swk"  # a passkey that can leave it (synced, multi-device)
# amr values that are a second factor. A synced passkey counts too: it is bound to the
# origin like a device-bound one, so phishing-resistant.
SECOND_FACTORS = frozenset({AMR_OTP, AMR_HARDWARE_KEY, AMR_SOFTWARE_KEY})

# The `acr` claim (and the `acr_values` to ask for): a second factor was presented, or the
# password alone.
ACR_MFA = "urn:rozitech:acr:mfa"
ACR_PASSWORD = "urn:rozitech:acr:pwd"  # noqa: S105 - a class name, not a secret


def acr_for(amr: Iterable[str]) -> str:
    """The authentication context class of a login with these methods."""
    return ACR_MFA if SECOND_FACTORS.intersection(amr) else ACR_PASSWORD
