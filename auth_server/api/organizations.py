"""Organizations, members, invitations and switching: thin routes over
organizations.Organizations and invitations.Invitations (which own the transactions)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from auth_server.api.deps import (
    BearerDep,
    ClientDep,
    CurrentUserDep,
    DbDep,
    LocaleDep,
    ServicesDep,
)
from auth_server.api.envelope import success
from auth_server.api.organization_models import (
    Envelope,
    InvitationsOut,
    MemberOut,
    MembersOut,
    OrganizationOut,
    OrganizationsOut,
    RemovedOut,
    SwitchedOut,
    WithdrawnOut,
)
from auth_server.models import Invitation, Membership
from auth_server.presenters import iso, membership_json, memberships_json
from auth_server.schemas import (
    InvitationBody,
    InvitationTokenBody,
    OrganizationBody,
    OrganizationSettingsBody,
    RoleBody,
    SwitchOrganizationBody,
)

router = APIRouter(prefix="/api/auth", tags=["organizations"])
ORG = "/organizations/{organization_id}"


def _member_json(membership: Membership) -> dict[str, Any]:
    user = membership.user
    return {
        "userId": str(user.id),
        "email": user.email,
        "firstName": user.first_name,
        "lastName": user.last_name,
        "role": membership.role,
        "joinedAt": iso(membership.created_at),
    }


def _invitation_json(invitation: Invitation) -> dict[str, Any]:
    return {
        "id": str(invitation.id),
        "email": invitation.email,
        "role": invitation.role,
        "createdAt": iso(invitation.created_at),
        "expiresAt": iso(invitation.expires_at),
    }


@router.get(
    "/organizations",
    summary="The caller's organizations, their role in each, and which one is active",
    response_model=Envelope[OrganizationsOut],
)
def list_organizations(token: BearerDep, services: ServicesDep, db: DbDep) -> JSONResponse:
    user, claims = services.sessions.authenticate_claims(db, token)
    active = services.sessions.token_membership(user, claims)
    return success({"organizations": memberships_json(user, active)})


@router.post(
    "/organizations",
    status_code=201,
    summary="Create an organization; the caller is its owner",
    response_model=Envelope[OrganizationOut],
)
def create_organization(
    body: OrganizationBody, token: BearerDep, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    services.limits.hit_ip("create-organization", client.ip_address)
    user = services.sessions.authenticate(db, token)
    membership = services.organizations.create(db, user, body.name, client)
    return success({**membership_json(membership), "active": False}, status_code=201)


@router.post(
    "/switch-organization",
    summary="A new access token for another of the caller's organizations (same session)",
    response_model=Envelope[SwitchedOut],
)
def switch_organization(
    body: SwitchOrganizationBody,
    token: BearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    switched = services.organizations.switch(db, token, body.organization_id, client)
    return success(
        {
            "accessToken": switched.access_token,
            "tokenType": "Bearer",
            "expiresIn": switched.expires_in,
            "organization": {**membership_json(switched.membership), "active": True},
        }
    )


@router.patch(
    ORG,
    summary="Change an organization's settings (owners): mfaRequired, members must use MFA",
)
def update_organization(
    organization_id: uuid.UUID,
    body: OrganizationSettingsBody,
    user: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    membership = services.organizations.set_mfa_required(
        db, user, organization_id, body.mfa_required, client
    )
    return success(
        {
            **membership_json(membership),
            "active": False,
            "mfaRequired": membership.organization.mfa_required,
        }
    )


@router.get(
    f"{ORG}/members",
    summary="The organization's members (members only)",
    response_model=Envelope[MembersOut],
)
def list_members(
    organization_id: uuid.UUID, user: CurrentUserDep, services: ServicesDep, db: DbDep
) -> JSONResponse:
    members = services.organizations.members(db, user, organization_id)
    return success({"members": [_member_json(m) for m in members]})


@router.patch(
    f"{ORG}/members/{{user_id}}",
    summary="Change a member's role (owners and admins; only owners touch owners)",
    response_model=Envelope[MemberOut],
)
def change_role(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    body: RoleBody,
    actor: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    membership = services.organizations.change_role(
        db, actor, organization_id, user_id, body.role, client
    )
    return success(_member_json(membership))


@router.delete(
    f"{ORG}/members/{{user_id}}",
    summary="Remove a member, or leave (your own id); the last owner cannot go",
    response_model=Envelope[RemovedOut],
)
def remove_member(
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    actor: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    outcome = services.organizations.remove(db, actor, organization_id, user_id, client)
    return success(
        {"userId": str(user_id), "organizationId": str(organization_id), "outcome": outcome}
    )


@router.post(
    f"{ORG}/invitations",
    status_code=201,
    summary="E-mail a single-use invitation (owners and admins; admins cannot invite owners)",
    response_model=Envelope[InvitationsOut],
)
def invite(
    organization_id: uuid.UUID,
    body: InvitationBody,
    token: BearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
) -> JSONResponse:
    # The IP limit first: it must count unauthenticated floods too.
    services.limits.hit_ip("invite", client.ip_address)
    actor = services.sessions.authenticate(db, token)
    # Per inviter, across organizations: invitation mails must not be a spam cannon.
    services.limits.hit_inviter(actor.id)
    invitation = services.invitations.invite(
        db, actor, organization_id, body.email, body.role, client, locale
    )
    return success({"invitations": [_invitation_json(invitation)]}, status_code=201)


@router.get(
    f"{ORG}/invitations",
    summary="Pending invitations (owners and admins)",
    response_model=Envelope[InvitationsOut],
)
def list_invitations(
    organization_id: uuid.UUID, actor: CurrentUserDep, services: ServicesDep, db: DbDep
) -> JSONResponse:
    pending = services.invitations.pending(db, actor, organization_id)
    return success({"invitations": [_invitation_json(i) for i in pending]})


@router.delete(
    f"{ORG}/invitations/{{invitation_id}}",
    summary="Withdraw a pending invitation (owners and admins)",
    response_model=Envelope[WithdrawnOut],
)
def withdraw_invitation(
    organization_id: uuid.UUID,
    invitation_id: uuid.UUID,
    actor: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    services.invitations.withdraw(db, actor, organization_id, invitation_id, client)
    return success({"id": str(invitation_id), "withdrawn": True})


@router.post(
    "/invitations/accept",
    summary="Join the invitation's organization (the caller's e-mail must be the invited one)",
    response_model=Envelope[OrganizationOut],
)
def accept_invitation(
    body: InvitationTokenBody,
    token: BearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    # Guessing tokens is hopeless (256 bits), but each try costs a look-up: capped per IP.
    services.limits.hit_ip("accept-invitation", client.ip_address)
    user = services.sessions.authenticate(db, token)
    membership = services.invitations.accept(db, user, body.token, client)
    return success({**membership_json(membership), "active": False})
