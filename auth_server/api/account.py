"""The account-lifecycle endpoints: password reset and change, logout-all, sessions."""

from __future__ import annotations

import uuid

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
from auth_server.audit import failures_audited
from auth_server.errors import WrongCurrentPassword
from auth_server.presenters import iso
from auth_server.schemas import (
    ChangePasswordBody,
    DeleteAccountBody,
    EmailBody,
    ResetPasswordBody,
)

router = APIRouter(prefix="/api/auth", tags=["account"])

FORGOT_MESSAGE = "If an account exists for this email, a password reset link is on its way."


@router.post("/forgot-password", summary="E-mail a single-use password reset link")
def forgot_password(
    body: EmailBody,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
) -> JSONResponse:
    services.password_flows.forgot(db, body.email, client, locale)
    # Same status and body whether or not the account exists (no enumeration).
    return success({"message": FORGOT_MESSAGE})


@router.post("/reset-password", summary="Set a new password with a reset token")
def reset_password(
    body: ResetPasswordBody,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
) -> JSONResponse:
    services.password_flows.reset(db, body.token, body.password, client, locale)
    return success({"message": "Your password was reset. Please log in again."})


@router.post("/change-password", summary="Change the password; other sessions are ended")
def change_password(
    body: ChangePasswordBody,
    token: BearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
) -> JSONResponse:
    user, claims = services.sessions.authenticate_claims(db, token)
    services.password_flows.change(
        db,
        user,
        body.current_password,
        body.new_password,
        client,
        locale,
        keep_session=claims.session_id,
    )
    return success({"message": "Password changed. Your other sessions were signed out."})


@router.delete("/account", summary="Erase the caller's account (the password confirms it)")
def delete_account(
    body: DeleteAccountBody,
    user: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    email = user.email
    with failures_audited(
        services.audit, db, "user_deleted", client=client, email=email, user_id=user.id
    ):
        # A stolen access token alone must not erase an account, nor guess its password
        # beyond the login budget (reserved before the check, see ratelimit.Lockout).
        services.lockout.reserve(db, email)
        if not services.passwords.verify(user.password_hash, body.password):
            services.lockout.fail(db, email)
            raise WrongCurrentPassword(errors={"password": ["Incorrect password"]})
    # No address or user agent in the event: they are the erased user's personal data.
    count = services.erasure.erase(db, user.id, reason="account_deleted")
    return success({"deleted": True, "revokedSessions": count})


@router.post("/logout-all", summary="Revoke every session of the caller")
def logout_all(
    user: CurrentUserDep, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    count = services.self_service.logout_all(db, user, client)
    return success({"message": "Logged out everywhere", "revokedSessions": count})


@router.get("/sessions", summary="The caller's active sessions")
def list_sessions(token: BearerDep, services: ServicesDep, db: DbDep) -> JSONResponse:
    user, claims = services.sessions.authenticate_claims(db, token)
    return success(
        {
            "sessions": [
                {
                    "id": str(session.id),
                    "createdAt": iso(session.created_at),
                    "lastUsedAt": iso(session.last_used_at),
                    "expiresAt": iso(session.expires_at),
                    "userAgent": session.user_agent,
                    "ipAddress": session.ip_address,
                    "current": session.id == claims.session_id,
                }
                for session in services.sessions.active_sessions(db, user.id)
            ]
        }
    )


@router.delete("/sessions/{session_id}", summary="Revoke one of the caller's sessions")
def revoke_session(
    session_id: uuid.UUID,
    user: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    services.self_service.revoke_session(db, user, session_id, client)
    return success({"id": str(session_id), "revoked": True})
