"""The /api/auth endpoints of the contract."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import select

from auth_server.api.deps import BearerDep, ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.errors import RefreshTokenReused
from auth_server.mfa.challenges import MfaChallenge
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


def mfa_challenge_json(challenge: MfaChallenge) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "mfaRequired": True,
        "mfaToken": challenge.token,
        "methods": challenge.methods,
        "expiresIn": challenge.expires_in,
    }
    if challenge.setup_required:
        answer["mfaSetupRequired"] = True
    return answer


@router.post("/signup", status_code=201, summary="Create an account and its organization")
def signup(
    body: SignupBody,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
) -> JSONResponse:
    # The code's mail is written with the account (outbox.py), never sent from here: a slow
    # mail server never slows the sign-up. With an invitation the account joins its
    # organization instead of creating one.
    result = services.registration.signup(
        db, body.request(locale), client, invitation_token=body.invitation_token
    )
    user = result.user
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
    user = services.registration.verify_email(db, body.email, body.code, client)
    return success({"email": user.email, "emailVerified": True})


@router.post("/resend-verification", summary="Send a new verification code")
def resend_verification(
    body: EmailBody,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
) -> JSONResponse:
    services.registration.resend_verification(db, body.email, client, locale)
    # Same answer whether or not the account exists (no enumeration).
    return success(
        {"message": "If this email has an account awaiting verification, a new code is on its way."}
    )


def login_json(issued: IssuedTokens) -> dict[str, Any]:
    """The answer of a completed login: tokens, user, organization, licenses."""
    return {**_tokens_json(issued), **identity_json(issued.user, issued.membership)}


@router.post(
    "/login",
    summary="Exchange e-mail and password for tokens (or for an mfaToken: second step)",
    description="With a second factor enrolled (or required by an organization's policy) "
    "the answer is `{mfaRequired: true, mfaToken, methods, expiresIn}` and no tokens: "
    "complete the login with POST /api/auth/mfa/verify (or /mfa/totp/setup and /confirm "
    "when `mfaSetupRequired`).",
)
def login(body: LoginBody, services: ServicesDep, db: DbDep, client: ClientDep) -> JSONResponse:
    identity = services.login.identify(db, body.email, body.password, client)
    challenge = services.mfa_verification.challenge(db, identity, client)
    if challenge is not None:
        return success(mfa_challenge_json(challenge))
    return success(login_json(services.login.issue_tokens(db, identity, client)))


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


@router.get("/me", summary="The caller's user, organization, licenses and memberships")
def me(token: BearerDep, services: ServicesDep, db: DbDep) -> JSONResponse:
    user, claims = services.sessions.read_claims(db, token)
    body = identity_json(user, services.sessions.token_membership(user, claims))
    # A read: its transaction ends here, in the worker thread, not on the event loop (get_db).
    db.rollback()
    return success(body)
