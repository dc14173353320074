"""The account-lifecycle endpoints: password reset and change, logout-all, sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from auth_server.accounts import normalize_email
from auth_server.api.deps import BearerDep, ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.audit import failures_audited
from auth_server.errors import RateLimited, WrongCurrentPassword
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
    services.limits.hit_ip("forgot-password", client.ip_address)
    # Counted for unknown addresses too: the 429 says nothing about the account. Per client
    # address: a flood from elsewhere must never keep the owner from asking for a link.
    services.limits.hit_client_account("forgot-password", client.ip_address, body.email)
    email = normalize_email(body.email)
    # Beyond the mail cap the answer stays the same, nothing is sent (no mail bombing, and
    # the cap says nothing about the account either).
    capped = not services.limits.reset_mail_allowed(client.ip_address, email)
    request = None if capped else services.recovery.request_reset(db, email, locale=locale)
    # One commit on both paths (the token, its mail and this event together): about the
    # same time, and the link is never sent from the request (a slow mail server would
    # otherwise tell who has an account).
    services.audit.record(
        db,
        "password_reset_requested",
        outcome="capped" if capped else "success" if request else "no_account",
        client=client,
        email=email,
        user_id=request.user_id if request else None,
    )
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
    services.limits.hit_ip("reset-password", client.ip_address)
    with failures_audited(services.audit, db, "password_reset_completed", client=client):
        user = services.recovery.reset_password(db, body.token, body.password, locale=locale)
    services.audit.record(
        db, "password_reset_completed", client=client, email=user.email, user_id=user.id
    )
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
    email = user.email
    with failures_audited(
        services.audit, db, "password_changed", client=client, email=email, user_id=user.id
    ):
        # Before the reservation: a weak new password must not cost the user an attempt.
        services.recovery.check_policy(user, body.new_password, field="newPassword")
        # A stolen access token must not allow unlimited guesses at the password: the same
        # per-account budget as login, reserved atomically before the check (see
        # ratelimit.Lockout).
        services.lockout.reserve(db, email)
        changed = services.recovery.change_password(
            db,
            user,
            body.current_password,
            body.new_password,
            keep_session=claims.session_id,
            locale=locale,
        )
        if not changed:
            db.rollback()
            try:
                services.lockout.fail(db, email)
            except RateLimited:
                services.audit.record(
                    db,
                    "lockout",
                    outcome="locked",
                    client=client,
                    email=email,
                    user_id=user.id,
                    details={"seconds": services.settings.login_lockout_seconds},
                )
                raise
            raise WrongCurrentPassword(errors={"currentPassword": ["Incorrect password"]})
    # The right current password gives its reservation back.
    services.lockout.refund(db, email)
    services.audit.record(db, "password_changed", client=client, email=email, user_id=user.id)
    return success({"message": "Password changed. Your other sessions were signed out."})


@router.delete("/account", summary="Erase the caller's account (the password confirms it)")
def delete_account(
    body: DeleteAccountBody,
    token: BearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    user = services.sessions.authenticate(db, token)
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
    token: BearerDep, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    user = services.sessions.authenticate(db, token)
    count = services.sessions.revoke_all(db, user.id, reason="logout_all")
    services.audit.record(
        db,
        "logout_all",
        client=client,
        email=user.email,
        user_id=user.id,
        details={"sessions": count},
    )
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
    token: BearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    user = services.sessions.authenticate(db, token)
    with failures_audited(
        services.audit, db, "session_revoked", client=client, email=user.email, user_id=user.id
    ):
        services.sessions.revoke_own_session(db, user.id, session_id)
    services.audit.record(
        db,
        "session_revoked",
        client=client,
        email=user.email,
        user_id=user.id,
        details={"session": str(session_id)},
    )
    return success({"id": str(session_id), "revoked": True})
