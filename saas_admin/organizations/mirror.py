"""Mirror the caller's organization and role from a verified token into local rows.

Runs when a token is verified afresh (`rozitech_auth.django.signals.token_verified`), not
on requests served from the verification cache. It reads the user's memberships in one query and
writes only what changed, so a new token of an unchanged member costs one query and no
write. No network call: the token (or /api/auth/me in remote mode) carries the
organization's name and slug.

Ordering: the user row keeps the time of the newest information the mirror applied
(`User.memberships_as_of`): the token's `iat` when organization and role come from the
token's claims (local, hybrid), the verification time when they come from the auth server's
answer (remote: /api/auth/me, the login), which is current whatever the token's age. A
change is applied only by information newer than that (compare-and-set on the user row), so
an older token verified late never writes an old role back nor brings a removed membership
back. (Same second: ignored, the times have whole seconds. Only changes move the mark, so
that an unchanged member costs no write.)

Removals, as far as today's tokens tell: the auth server puts the user's *first-joined*
membership in the token (`org`, `role`), or none when the user has none. A newer token
saying "organization X" (or "no organization") therefore means that every organization the
mirror saw as the user's first-joined one, other than X, has been left (a membership joined
later never becomes first over one still held): those rows are deleted. Tokens tell nothing
about a user's later-joined memberships; rows not written by the mirror (`token_iat` null,
e.g. made in the admin site) are left alone. Membership events from the auth server (the
organizations issue) will make this complete.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.dispatch import receiver
from rozitech_auth import tokens
from rozitech_auth.django.authentication import AuthToken
from rozitech_auth.django.signals import token_verified

from organizations.models import Membership, Organization, Role

logger = logging.getLogger(__name__)


@receiver(token_verified)
def _on_token_verified(sender: Any, user: Any, token: AuthToken, **_kwargs: Any) -> None:
    mirror_membership(user, token)


def mirror_membership(user: Any, token: AuthToken) -> Membership | None:
    """The user's membership as this token says (None when it names none), rows the token
    shows to be gone deleted; a token older than the last change applied changes nothing."""
    as_of = _as_of(token)
    if as_of is None:
        return None  # unordered: cannot tell whether it is newer than what we hold
    org_id, role = token.organization_id, token.role
    if org_id is not None and role not in Role.values:
        return None
    known = token.organization or {}
    name, slug = known.get("name"), known.get("slug")
    rows = list(Membership.objects.filter(user=user).select_related("organization"))
    current = next((m for m in rows if str(m.organization_id) == org_id), None)
    # Mirror-written rows of another first-joined organization: left since (module doc).
    gone = [m.pk for m in rows if m is not current and m.token_iat is not None]
    if not gone and (
        org_id is None
        or role is None
        or (current is not None and _unchanged(current, role, name, slug))
    ):
        return current
    for _attempt in range(2):
        try:
            with transaction.atomic():
                if not _claim(user, as_of):
                    return current  # a newer token has been applied already
                Membership.objects.filter(pk__in=gone).delete()
                if org_id is None or role is None:
                    return None
                return _save(user, org_id, role, name, slug, as_of)
        except IntegrityError:
            # A concurrent first request inserted the same row; the second pass finds it.
            logger.debug("concurrent mirror of organization %s", org_id)
    return None


def _claim(user: Any, as_of: int) -> bool:
    """Moves the user's mark to `as_of` unless it is there or later already."""
    users = type(user)._default_manager.filter(pk=user.pk)
    return bool(users.exclude(memberships_as_of__gte=as_of).update(memberships_as_of=as_of))


def _as_of(token: AuthToken) -> int | None:
    """When the token's organization and role were true (see the module doc)."""
    if token.verified.profile is not None:
        return int(tokens.now())  # the auth server's answer, given just now
    iat = token.claims.get("iat")
    return iat if isinstance(iat, int) else None


def _unchanged(membership: Membership, role: str, name: Any, slug: Any) -> bool:
    return membership.role == role and not _renamed(membership.organization, name, slug)


def _renamed(org: Organization, name: Any, slug: Any) -> bool:
    """True when the token names the organization otherwise (no name: it tells nothing)."""
    return name is not None and (org.name, org.slug) != (name, slug or "")


def _save(
    user: Any, org_id: str, role: str, name: str | None, slug: str | None, iat: int
) -> Membership:
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        org = Organization.objects.create(id=org_id, name=name or "", slug=slug or "")
    elif _renamed(org, name, slug):
        assert name is not None
        org.name, org.slug = name, slug or ""
        org.save(update_fields=["name", "slug", "updated_at"])
    membership, created = Membership.objects.get_or_create(
        user=user, organization=org, defaults={"role": role, "token_iat": iat}
    )
    if not created and (membership.role, membership.token_iat) != (role, iat):
        membership.role, membership.token_iat = role, iat
        membership.save(update_fields=["role", "token_iat", "updated_at"])
    return membership
