"""Mirror organizations and memberships from the auth server into local rows.

Two sources, both announced by the client library (the library never imports this app):

- a token verified afresh (`token_verified`): its active organization (`org`), the user's
  role in it, and the organization's name and slug when known. A user of several
  organizations gets one row per organization their tokens have named (they switch between
  them). A token naming none means the user belongs to none: the rows this mirror wrote
  before it are deleted.
- a `membership_changed` event of hybrid's revocation feed (`membership_changed` signal):
  with reason `removed` or `left` the row is deleted; with `role_changed` the row keeps
  only the least privileged role (member) until a token issued after the change says which
  role it is: the rows are what this service authorizes by (organizations.access), and a
  demoted admin must not manage the organization here meanwhile.

Ordering: each row keeps the time of the information it was written from (`token_iat`):
the token's `iat` when it comes from the token's claims (local, hybrid), the verification
time when it comes from the auth server's answer (remote: /api/auth/me, the login), which is
current whatever the token's age. A token changes a row only when it is newer than that
(compare-and-set on the row), so a late, older token never writes an old role back. A token
naming no organization also moves the user's mark (`User.memberships_as_of`): no token
older than the mark creates a row again. An event applies to the rows whose information it
outdates, as hybrid verification judges tokens (`token_iat` < `issuedBefore`; the auth
server puts a removal's cutoff after the second it happened in, so no token of that second
keeps a removed row); rows made here (the admin site, `token_iat` null) have no time, and
the auth server, which owns membership, wins. Events come again (every backfill): applying
one twice changes nothing. A removed member's older tokens cannot bring a row back: hybrid
verification refuses them (outdated) for as long as they could verify.

A new token of an unchanged member costs no query: the client library does not announce a
token that says what the last one said (rozitech_auth.django.users.LocalUsers); when it does,
an unchanged row costs one query and no write. No network call: the token (or
/api/auth/me in remote mode) carries the organization's name and slug.
"""

from __future__ import annotations

import logging
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.dispatch import receiver
from django.utils import timezone
from rozitech_auth import tokens
from rozitech_auth.django.authentication import AuthToken
from rozitech_auth.django.signals import membership_changed, token_verified
from rozitech_auth.revocations import MEMBERSHIP_ENDED

from organizations.models import Membership, Organization, Role

logger = logging.getLogger(__name__)


@receiver(token_verified)
def _on_token_verified(sender: Any, user: Any, token: AuthToken, **_kwargs: Any) -> None:
    mirror_membership(user, token)


@receiver(membership_changed)
def _on_membership_changed(
    sender: Any,
    user_id: str,
    organization_id: str,
    reason: str,
    issued_before: int,
    **_kwargs: Any,
) -> None:
    apply_membership_change(user_id, organization_id, reason, issued_before)


def apply_membership_change(
    user_id: str, organization_id: str, reason: str, issued_before: int
) -> int:
    """The auth server's membership event applied to the row it concerns (module doc);
    returns how many rows changed."""
    rows = Membership.objects.filter(
        user__auth_user_id=user_id, organization_id=organization_id
    ).filter(Q(token_iat__isnull=True) | Q(token_iat__lt=issued_before))
    if reason in MEMBERSHIP_ENDED:
        deleted, _ = rows.delete()
        return deleted
    # role_changed (or a reason this version does not know): the role is no longer known.
    return rows.exclude(role=Role.MEMBER).update(role=Role.MEMBER, updated_at=timezone.now())


def mirror_membership(user: Any, token: AuthToken) -> Membership | None:
    """The user's membership in the token's organization, written unless the row holds newer
    information (then None, as when the token names no organization: the rows older than
    the token are deleted then)."""
    as_of = _as_of(token)
    if as_of is None:
        return None  # unordered: cannot tell whether it is newer than what we hold
    org_id, role = token.organization_id, token.role
    if org_id is None:
        # The user belongs to no organization (any more): what we wrote before is gone, and
        # the mark keeps older tokens from bringing it back.
        with transaction.atomic():
            _users(user).filter(
                Q(memberships_as_of__isnull=True) | Q(memberships_as_of__lt=as_of)
            ).update(memberships_as_of=as_of)
            Membership.objects.filter(user=user, token_iat__lt=as_of).delete()
        return None
    if role not in Role.values:
        return None
    known = token.organization or {}
    name, slug = known.get("name"), known.get("slug")
    current = (
        Membership.objects.filter(user=user, organization_id=org_id)
        .select_related("organization")
        .first()
    )
    if current is not None and _unchanged(current, role, name, slug):
        return current
    for _attempt in range(2):
        try:
            with transaction.atomic():
                return _save(user, org_id, role, name, slug, as_of)
        except IntegrityError:
            # A concurrent first request inserted the same row; the second pass finds it.
            logger.debug("concurrent mirror of organization %s", org_id)
    return None


def _users(user: Any) -> Any:
    return type(user)._default_manager.filter(pk=user.pk)


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
    user: Any, org_id: str, role: str, name: str | None, slug: str | None, as_of: int
) -> Membership | None:
    """Creates or updates the row, unless it holds newer information already."""
    if _users(user).filter(memberships_as_of__gte=as_of).exists():
        return None  # a newer token said the user belongs to no organization
    org = Organization.objects.filter(pk=org_id).first()
    if org is None:
        org = Organization.objects.create(id=org_id, name=name or "", slug=slug or "")
    membership, created = Membership.objects.get_or_create(
        user=user, organization=org, defaults={"role": role, "token_iat": as_of}
    )
    if not created:
        # Compare-and-set: of concurrent or late tokens the newest wins, in any order.
        older = Q(token_iat__isnull=True) | Q(token_iat__lt=as_of)
        if not Membership.objects.filter(older, pk=membership.pk).update(
            role=role, token_iat=as_of, updated_at=timezone.now()
        ):
            return None  # a newer token has been applied already: it names the org too
        membership.role, membership.token_iat = role, as_of
    if _renamed(org, name, slug):
        assert name is not None
        org.name, org.slug = name, slug or ""
        org.save(update_fields=["name", "slug", "updated_at"])
    return membership
