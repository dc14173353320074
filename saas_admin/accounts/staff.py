"""Who is staff: owners and admins of the staff organization, named by its id.

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
