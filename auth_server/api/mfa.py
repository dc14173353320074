"""The /api/auth/mfa endpoints: enrol and manage TOTP and recovery codes; the login's
second step."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials
from sqlalchemy.orm import Session

from auth_server.amr import AMR_OTP
from auth_server.api.auth import login_json
from auth_server.api.deps import (
    ClientDep,
    CurrentUserDep,
    DbDep,
    LocaleDep,
    OptionalBearerDep,
    ServicesDep,
    bearer_token_of,
)
from auth_server.api.envelope import success
from auth_server.api.passkeys import passkey_json
from auth_server.errors import InvalidMfaCode, InvalidMfaToken
from auth_server.mfa.challenges import PendingLogin
from auth_server.mfa.enrolment import Proof
from auth_server.models import User
from auth_server.presenters import iso
from auth_server.schemas import MfaConfirmBody, MfaProofBody, MfaSetupBody, MfaVerifyBody
from auth_server.services import Services
from auth_server.sessions import ClientInfo

router = APIRouter(prefix="/api/auth/mfa", tags=["mfa"])


@router.get("", summary="The caller's second factors and whether a policy requires one")
def status(user: CurrentUserDep, services: ServicesDep, db: DbDep) -> JSONResponse:
    found = services.mfa_enrolment.status(db, user)
    return success(
        {
            "methods": found.methods,
            "totp": {"enabled": found.totp_enabled, "confirmedAt": iso(found.totp_confirmed_at)},
            "recoveryCodesRemaining": found.recovery_codes_remaining,
            "requiredByOrganization": found.required_by_organization,
            "passkeys": [passkey_json(p) for p in services.passkeys.of_user(db, user.id)],
        }
    )


def _enrolling_user(
    db: Session,
    services: Services,
    client: ClientInfo,
    bearer: HTTPAuthorizationCredentials | None,
    mfa_token: str | None,
) -> tuple[User, PendingLogin | None]:
    """Who enrols: the Bearer token's user, or the user of a login that a policy sent to
    enrol (its mfaToken, which authorizes nothing else)."""
    if mfa_token is not None:
        pending = services.mfa_challenges.pending(db, mfa_token, client)
        # A challenge for an enrolled user completes with a code, never with a new factor.
        if not pending.setup_required:
            raise InvalidMfaToken()
        return pending.identity.user, pending
    return services.sessions.authenticate(db, bearer_token_of(bearer)), None


@router.post(
    "/totp/setup",
    summary="Start enrolling an authenticator app: its secret, otpauth URI and QR code",
    description="Authorized by a Bearer token, or by the login's `mfaToken` in the body "
    "when the login answered `mfaSetupRequired`.",
)
def totp_setup(
    body: MfaSetupBody,
    bearer: OptionalBearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    services.limits.hit_ip("mfa-setup", client.ip_address)
    user, _ = _enrolling_user(db, services, client, bearer, body.mfa_token)
    enrolment = services.mfa_enrolment.setup(db, user, client)
    return success(
        {"secret": enrolment.secret, "otpauthUri": enrolment.otpauth_uri, "qrSvg": enrolment.qr_svg}
    )


@router.post(
    "/totp/confirm",
    summary="Confirm the authenticator app with a first code; returns 10 recovery codes",
    description="The recovery codes are shown this once. With the login's `mfaToken` "
    "(policy enrolment) the answer also carries the tokens of the completed login.",
)
def totp_confirm(
    body: MfaConfirmBody,
    bearer: OptionalBearerDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    # Per IP, like login: six digits must not be guessable by brute force.
    services.limits.hit_ip("mfa-confirm", client.ip_address)
    user, pending = _enrolling_user(db, services, client, bearer, body.mfa_token)
    if pending is None:
        codes = services.mfa_enrolment.confirm(db, user, body.code, client)
        db.commit()
        return success({"recoveryCodes": codes})
    try:
        codes = services.mfa_enrolment.confirm(db, user, body.code, client)
    except InvalidMfaCode:
        # A wrong first code counts against the login attempt like a wrong second factor.
        services.mfa_challenges.failed(db, pending, client)
    identity = services.mfa_challenges.passed(db, pending, AMR_OTP)
    # One commit: the confirmed factor, its recovery codes, the spent challenge, the session.
    issued = services.login.issue_tokens(db, identity, client)
    return success({"recoveryCodes": codes, **login_json(issued)})


@router.delete(
    "/totp",
    summary="Disable the authenticator app (and its recovery codes)",
    description="Body: the current `password` or a current `code`.",
)
def totp_disable(
    body: MfaProofBody, user: CurrentUserDep, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    services.mfa_enrolment.disable(db, user, Proof(body.password, body.code), client)
    return success({"methods": services.mfa.methods(db, user.id)})


@router.post(
    "/recovery-codes",
    summary="Replace the recovery codes with 10 new ones (the old ones stop working)",
    description="Body: the current `password` or a current `code`.",
)
def regenerate_recovery_codes(
    body: MfaProofBody, user: CurrentUserDep, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    codes = services.mfa_enrolment.regenerate(db, user, Proof(body.password, body.code), client)
    return success({"recoveryCodes": codes})


@router.post(
    "/verify",
    summary="Complete a login with a code from the app, a recovery code or a passkey",
    description="`{mfaToken, code}`, `{mfaToken, recoveryCode}` or `{mfaToken, webauthn}` "
    "(the passkey's answer to /mfa/webauthn/options); answers as /login does. "
    "The mfaToken lasts 5 minutes, works once, from the address that logged in; the fifth "
    "wrong code ends it, and every wrong code counts toward the account's lockout.",
)
def verify(
    body: MfaVerifyBody, services: ServicesDep, db: DbDep, client: ClientDep, locale: LocaleDep
) -> JSONResponse:
    # Per IP, like login: codes are short, the budget of guesses must be too.
    services.limits.hit_ip("mfa-verify", client.ip_address)
    pending = services.mfa_challenges.pending(db, body.mfa_token, client)
    if body.webauthn is not None:
        identity = services.passkeys.second_factor(db, pending, body.webauthn, client)
    else:
        identity = services.mfa_verification.verify(
            db, pending, client, locale, code=body.code, recovery_code=body.recovery_code
        )
    return success(login_json(services.login.issue_tokens(db, identity, client)))
