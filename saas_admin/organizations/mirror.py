"""Mirror the caller's organization and role from a verified token into local rows.

Runs when a token is verified afresh (`core.signals.token_verified`), not on requests
served from the verification cache. It reads one row and writes only what changed, so a
new token of an unchanged member costs one query and no write. No network call: the token
(or /api/auth/me in remote mode) carries the organization's name and slug.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.dispatch import receiver

from core.authentication import AuthToken
from core.signals import token_verified
from organizations.models import Membership, Organization, Role

logger = logging.getLogger(__name__)


@receiver(token_verified)
def _on_token_verified(sender: Any, user: Any, token: AuthToken, **_kwargs: Any) -> None:
    mirror_membership(user, token)


def mirror_membership(user: Any, token: AuthToken) -> Membership | None:
    org_id, role = token.organization_id, token.role
    if not org_id or role not in Role.values:
        return None
    known = token.organization or {}
    name, slug = known.get("name"), known.get("slug")
    membership = (
        Membership.objects.filter(user=user, organization_id=org_id)
        .select_related("organization")
        .first()
    )
    if membership is not None and _unchanged(membership, role, name, slug):
        return membership
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _save(user, org_id, role, name, slug)
        except IntegrityError:
            # A concurrent first request inserted the same row; the second pass finds it.
            logger.debug("concurrent mirror of organization %s", org_id)
    return None


def _unchanged(membership: Membership, role: str, name: Any, slug: Any) -> bool:
    org = membership.organization
    return membership.role == role and (name is None or (org.name, org.slug) == (name, slug or ""))


def _save(user: Any, org_id: str, role: str, name: str | None, slug: str | None) -> Membership:
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
