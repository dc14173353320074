"""Whether a verified token's licenses grant a product (the same rule in every adapter).

Two sources, one answer: remote mode has the auth server's license map (GET /api/auth/me:
status and expiry per product); local and hybrid modes have the token's `licenses` claim,
the organization's usable product codes when the token was issued. The claim is as fresh as
the token: a license change outdates the token at once in hybrid mode (`licenses_changed`
on the revocation feed), and at its `exp` at the latest in local mode.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rozitech_auth import tokens
from rozitech_auth.revocations import iso_epoch

# Statuses of a license that grant access to its product.
USABLE_LICENSE_STATUSES = frozenset({"trial", "active"})


def grants(licenses: Mapping[str, Any] | None, product: str) -> bool:
    """A trial or active license whose `expiresAt` (null: open-ended) is still ahead."""
    entry = (licenses or {}).get(product)
    if not isinstance(entry, dict) or entry.get("status") not in USABLE_LICENSE_STATUSES:
        return False
    expires = entry.get("expiresAt")
    if expires is None:
        return True
    # An unreadable expiry grants nothing: a trial must never become open-ended.
    until = iso_epoch(expires)
    return until is not None and until > tokens.now()


def claimed_products(claims: Mapping[str, Any]) -> frozenset[str] | None:
    """The token's `licenses` claim; None when the token has none (an older auth server)."""
    claim = claims.get("licenses")
    if not isinstance(claim, list):
        return None
    return frozenset(code for code in claim if isinstance(code, str))


def products(verified: tokens.VerifiedToken) -> frozenset[str] | None:
    """The products the caller's organization may use now; None when nothing says."""
    if verified.licenses is not None:
        return frozenset(code for code in verified.licenses if grants(verified.licenses, code))
    return claimed_products(verified.claims)


def has_license(verified: tokens.VerifiedToken, product: str) -> bool:
    """The license map when the auth server gave one (remote), else the token's claim."""
    return product in (products(verified) or ())
