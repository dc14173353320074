"""The /api/auth endpoints of the contract."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, BackgroundTasks
from fastapi.responses import JSONResponse
from sqlalchemy import select

from auth_server.accounts import SignupRequest, normalize_email, user_id_of
from auth_server.api.deps import BearerDep, ClientDep, DbDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.audit import failures_audited
from auth_server.errors import RefreshTokenReused
from auth_server.models import AuthSession
from auth_server.presenters import identity_json
from auth_server.schemas import EmailBody, LoginBody, RefreshTokenBody, SignupBody, VerifyEmailBody
from auth_server.sessions import IssuedTokens

router = APIRouter(prefix="/api/auth", tags=["auth"])


def _tokens_json(issued: IssuedTokens) -> dict[str, Any]:
    return {
        "accessToken": issued.access_token,
        "refreshToken": issued.refresh_token,
        "tokenType": "Bearer",
        "expiresIn": issued.expires_in,
    }


@router.post("/signup", status_code=201, summary="Create an account and its organization")
def signup(
    body: SignupBody,
    services: ServicesDep,
    db: DbDep,
    background: BackgroundTasks,
    client: ClientDep,
) -> JSONResponse:
    # Per IP and per address: sign-up mails a code, so it must not be a spam cannon.
    services.limits.hit_ip("signup", client.ip_address)
    services.limits.hit_account("signup", body.email)
    email = normalize_email(body.email)
    with failures_audited(services.audit, db, "signup", client=client, email=email):
        result = services.accounts.signup(
            db,
            SignupRequest(
                email=body.email,
                password=body.password,
                first_name=body.first_name,
                last_name=body.last_name,
                company=body.company,
                phone=body.phone or None,
                products=body.products,
            ),
        )
    user = result.user
    services.audit.record(db, "signup", client=client, email=user.email, user_id=user.id)
    # Sent after the response, so a slow mail server never slows the sign-up.
    background.add_task(services.accounts.send_verification_code, user.email, result.code)
    return success(
        {
            "userId": str(user.id),
            "email": user.email,
            "organizationId": str(result.organization.id),
            "emailVerified": False,
            "message": "Account created. We sent a verification code to your email.",
        },
        status_code=201,
    )


@router.post("/verify-email", summary="Confirm the e-mail address with the code sent to it")
def verify_email(
    body: VerifyEmailBody, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    # Beside the per-code try limit: caps guessing across fresh codes too.
    services.limits.hit_ip("verify-email", client.ip_address)
    services.limits.hit_account("verify-email", body.email)
    email = normalize_email(body.email)
    with failures_audited(
        services.audit,
        db,
        "email_verified",
        client=client,
        email=email,
        user_id=user_id_of(db, email),
    ):
        user = services.accounts.verify_email(db, body.email, body.code)
    services.audit.record(db, "email_verified", client=client, email=user.email, user_id=user.id)
    return success({"email": user.email, "emailVerified": True})


@router.post("/resend-verification", summary="Send a new verification code")
def resend_verification(
    body: EmailBody,
    services: ServicesDep,
    db: DbDep,
    background: BackgroundTasks,
    client: ClientDep,
) -> JSONResponse:
    # Counted for unknown addresses too: the 429 says nothing about the account.
    services.limits.hit_ip("resend-verification", client.ip_address)
    services.limits.hit_account("resend-verification", body.email)
    pending = services.accounts.resend_verification(db, body.email)
    if pending is not None:
        user, code = pending
        background.add_task(services.accounts.send_verification_code, user.email, code)
    # Same answer whether or not the account exists (no enumeration).
    return success(
        {"message": "If this email has an account awaiting verification, a new code is on its way."}
    )


@router.post("/login", summary="Exchange e-mail and password for tokens")
def login(body: LoginBody, services: ServicesDep, db: DbDep, client: ClientDep) -> JSONResponse:
    issued = services.login.with_password(db, body.email, body.password, client)
    return success({**_tokens_json(issued), **identity_json(issued.user)})


@router.post("/refresh", summary="Rotate a refresh token")
def refresh(
    body: RefreshTokenBody, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    try:
        issued = services.sessions.refresh(db, body.refresh_token)
    except RefreshTokenReused as exc:
        db.rollback()
        services.audit.record(
            db,
            "refresh_token_reuse",
            outcome="revoked",
            client=client,
            user_id=db.scalar(select(AuthSession.user_id).where(AuthSession.id == exc.session_id)),
            details={"session": str(exc.session_id)},
        )
        raise
    # Routine refreshes are not security events (a session's last use is on its row);
    # AUDIT_REFRESH records them too. Reuse is always recorded, above.
    if services.settings.audit_refresh:
        services.audit.add(
            db,
            "refresh",
            client=client,
            user_id=issued.user.id,
            details={"session": str(issued.session_id)},
        )
    db.commit()  # the rotation and its audit event (if any) together
    return success(_tokens_json(issued))


@router.post("/logout", summary="Revoke the session of a refresh token")
def logout(
    body: RefreshTokenBody, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    user_id = services.sessions.logout(db, body.refresh_token)
    # Unknown tokens are not recorded: this endpoint is open, and garbage must not fill the log.
    if user_id is not None:
        services.audit.record(db, "logout", client=client, user_id=user_id)
    return success({"message": "Logged out"})


@router.get("/me", summary="The caller's user, organization and licenses")
def me(token: BearerDep, services: ServicesDep, db: DbDep) -> JSONResponse:
    return success(identity_json(services.sessions.authenticate(db, token)))
