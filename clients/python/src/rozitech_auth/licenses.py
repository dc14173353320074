"""Whether a verified token's licenses grant a product (the same rule in every adapter)."""

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
