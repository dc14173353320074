"""Mirror the caller's organization and role from a verified token into local rows.

Runs when a token is verified afresh (`core.signals.token_verified`), not on requests
served from the verification cache. A cache entry remembers what was mirrored, so a new
token of an unchanged member costs no query; rows are written only when something changed.
"""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.core.cache import cache
from django.db import IntegrityError, transaction
from django.dispatch import receiver

from core.auth_client import AuthServiceUnavailable, get_auth_client
from core.authentication import AuthToken
from core.signals import token_verified
from organizations.models import Membership, Organization, Role

logger = logging.getLogger(__name__)
MIRRORED_TTL = 300


@receiver(token_verified)
def _on_token_verified(sender: Any, user: Any, token: AuthToken, **_kwargs: Any) -> None:
    mirror_membership(user, token)


def mirror_membership(user: Any, token: AuthToken) -> Membership | None:
    org_id, role = token.organization_id, token.role
    if not org_id or role not in Role.values:
        return None
    known = token.organization or {}
    name, slug = known.get("name"), known.get("slug")
    marker = _marker(user.pk, org_id, role, name, slug)
    if cache.get(marker):
        return None
    if name is None and not Organization.objects.filter(pk=org_id).exclude(name="").exists():
        name, slug = _ask_organization(token)
    membership = None
    for _attempt in range(2):
        try:
            with transaction.atomic():
                membership = _save(user, org_id, role, name, slug)
            break
        except IntegrityError:
            # A concurrent first request inserted the same row; the second pass finds it.
            logger.debug("concurrent mirror of organization %s", org_id)
    if membership is not None and membership.organization.name:
        cache.set(marker, True, MIRRORED_TTL)
    return membership


def _ask_organization(token: AuthToken) -> tuple[str | None, str | None]:
    """Local verification carries no organization name: ask the auth server, once. An
    outage must not refuse a locally valid token: the name is filled in later."""
    try:
        organization = get_auth_client().verify_token(str(token)).get("organization") or {}
    except AuthServiceUnavailable:
        logger.warning("Organization name unknown while the auth server is unreachable")
        return None, None
    return organization.get("name"), organization.get("slug")


def _marker(user_pk: Any, org_id: str, role: str, name: str | None, slug: str | None) -> str:
    digest = hashlib.sha256(f"{user_pk}|{org_id}|{role}|{name}|{slug}".encode()).hexdigest()
    return f"organizations.mirrored:{digest}"


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
