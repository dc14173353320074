"""What an organization's licenses entitle it to at a moment: usable products and seats.

A license is usable while its status is active or trial and it has not expired. Only
usable licenses count, for the `licenses` claim as for the seat limit: an ended plan
neither grants a product nor caps the members.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from auth_server.identity import LicenseFacts
from auth_server.models import License

USABLE_STATUSES = frozenset({"active", "trial"})


def usable(license_: LicenseFacts, now: datetime) -> bool:
    return license_.status in USABLE_STATUSES and (
        license_.expires_at is None or license_.expires_at > now
    )


def usable_products(licenses: Iterable[LicenseFacts], now: datetime) -> list[str]:
    """The sorted product codes of the usable licenses (the access token's `licenses`)."""
    return sorted({lic.product_code for lic in licenses if usable(lic, now)})


def seat_limit(licenses: Iterable[License], now: datetime) -> int | None:
    """The smallest `seats` among the usable licenses; None when none sets a limit."""
    limits = [lic.seats for lic in licenses if lic.seats is not None and usable(lic, now)]
    return min(limits, default=None)
