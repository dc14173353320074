"""Who is staff: owners and admins of the staff organization, named by its id, signed in
with a second factor when ADMIN_REQUIRE_MFA is on.

By id, never by slug: slugs come from the company names people type at sign-up, so a slug
can be squatted ("ROZITECH!"); the id is the one `python -m auth_server create-admin`
created (SAAS_ADMIN_STAFF_ORGANIZATION_ID, or the file that command writes).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.conf import settings
from rozitech_auth.amr import SECOND_FACTORS

from organizations.models import MANAGER_ROLES


def _parse(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except ValueError:
        return None


def staff_organization_id() -> uuid.UUID | None:
    """The staff organization's id; None (nobody is staff) when it is not configured."""
    configured = str(getattr(settings, "SAAS_ADMIN_STAFF_ORGANIZATION_ID", "") or "")
    if configured:
        return _parse(configured)
    path = str(getattr(settings, "SAAS_ADMIN_STAFF_ORGANIZATION_FILE", "") or "")
    try:
        return _parse(Path(path).read_text()) if path else None
    except OSError:
        return None


def is_staff_identity(organization: Mapping[str, Any] | None) -> bool:
    """True when a verified identity's organization is the staff one and its role manages."""
    staff_id = staff_organization_id()
    if staff_id is None or not organization:
        return False
    return (
        _parse(str(organization.get("id") or "")) == staff_id
        and organization.get("role") in MANAGER_ROLES
    )


def has_second_factor(claims: Mapping[str, Any]) -> bool:
    """True when a token's `amr` names a second factor (rozitech_auth.amr.SECOND_FACTORS: a
    one-time code or a passkey, device-bound or synced); a token without `amr` has none."""
    amr = claims.get("amr")
    # A JSON array of strings; anything else (a forged or odd token) names no factor.
    return isinstance(amr, list) and any(
        isinstance(value, str) and value in SECOND_FACTORS for value in amr
    )


def needs_step_up(organization: Mapping[str, Any] | None, claims: Mapping[str, Any]) -> bool:
    """True for a staff identity whose token lacks the second factor the admin site demands:
    it gets no staff rights, only the way to sign in again with one."""
    return (
        bool(settings.ADMIN_REQUIRE_MFA)
        and is_staff_identity(organization)
        and not has_second_factor(claims)
    )


def has_staff_rights(organization: Mapping[str, Any] | None, claims: Mapping[str, Any]) -> bool:
    """Staff and superuser rights for a verified token: a staff identity, with the second
    factor when one is required."""
    return is_staff_identity(organization) and not needs_step_up(organization, claims)
