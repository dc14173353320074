"""Mirror the caller's organization and role from a verified token into local rows.

Runs on every authenticated request (the `core.signals.token_verified` signal), so the
steady path makes no query: a cache entry remembers that this exact (user, organization,
role, name) was mirrored already.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from core.authentication import AuthToken
from core.auth_client import get_auth_client
from core.signals import token_verified
from organizations.models import Membership, Organization, Role

logger = logging.getLogger(__name__)
MIRRORED_TTL = 300


@receiver(token_verified)
def _on_token_verified(sender: Any, user: Any, token: AuthToken, **_kwargs: Any) -> None:
    mirror_membership(user, token)


def mirror_membership(user: Any, token: AuthToken) -> Membership | None:
    organization = token.organization or {}
    org_id, role = token.organization_id, token.role
    if not org_id or role not in Role.values:
        return None
    name, slug = organization.get("name"), organization.get("slug")
    marker = _marker(user.pk, org_id, role, name, slug)
    if cache.get(marker):
        return None
    if name is None:
        # Local verification carries no organization name: ask the auth server once.
        identity = get_auth_client().verify_token(str(token))
        name = (identity.get("organization") or {}).get("name")
        slug = (identity.get("organization") or {}).get("slug")
    membership = _save(user, org_id, role, name, slug)
    cache.set(marker, True, MIRRORED_TTL)
    return membership


def _marker(user_pk: Any, org_id: str, role: str, name: str | None, slug: str | None) -> str:
    digest = hashlib.sha256(f"{user_pk}|{org_id}|{role}|{name}|{slug}".encode()).hexdigest()
    return f"org-mirror:{digest}"


def _save(user: Any, org_id: str, role: str, name: str | None, slug: str | None) -> Membership:
    """Create or update, writing only what changed; concurrent first requests are safe."""
    for _attempt in range(2):
        try:
            with transaction.atomic():
                org = Organization.objects.filter(pk=org_id).first()
                if org is None:
                    org = Organization.objects.create(id=org_id, name=name or "", slug=slug or "")
                elif name is not None and (org.name, org.slug) != (name, slug or ""):
                    org.name, org.slug = name, slug or ""
                    org.save(update_fields=["name", "slug", "updated_at"])
                membership, created = Membership.objects.get_or_create(
                    user=user, organization=org, defaults={"role": role}
                )
                if not created and membership.role != role:
                    membership.role = role
                    membership.save(update_fields=["role", "updated_at"])
                return membership
        except IntegrityError:
            # Another request inserted the same row first; the second pass finds it.
            logger.debug("concurrent mirror of organization %s", org_id)
    raise RuntimeError("could not mirror the membership")
