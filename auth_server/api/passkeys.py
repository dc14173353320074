"""Passkeys over the JSON API: register, rename, delete (Bearer; GET /api/auth/mfa lists
them); sign in with one alone, or prove one as a password login's second factor.

The options endpoints answer what `navigator.credentials.create()` / `.get()` take as
`publicKey` (binary fields base64url-encoded, as WebAuthn's JSON forms); the verify
endpoints take the credential those calls made, in WebAuthn's JSON form
(`PublicKeyCredential.toJSON()`).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import Field

from auth_server.api.auth import login_json
from auth_server.api.deps import ClientDep, CurrentUserDep, DbDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.passkeys.models import Passkey
from auth_server.presenters import iso
from auth_server.schemas import Body

router = APIRouter(prefix="/api/auth", tags=["passkeys"])

Name = Field(default="", max_length=100)


class RegisterPasskeyBody(Body):
    credential: dict[str, Any]
    # Shown in the passkey list; "Passkey" when empty.
    name: str = Name


class RenamePasskeyBody(Body):
    name: str = Field(min_length=1, max_length=100)


class PasskeyLoginBody(Body):
    credential: dict[str, Any]


class MfaTokenBody(Body):
    mfa_token: str = Field(min_length=1, max_length=512)


def passkey_json(passkey: Passkey) -> dict[str, Any]:
    return {
        "id": str(passkey.id),
        "name": passkey.name,
        "deviceType": passkey.device_type,
        "backedUp": passkey.backed_up,
        "transports": passkey.transports,
        "createdAt": iso(passkey.created_at),
        "lastUsedAt": iso(passkey.last_used_at),
    }


@router.post("/mfa/webauthn/register/options", summary="Options to create a passkey")
def register_options(
    user: CurrentUserDep, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    return success(services.passkeys.registration_options(db, user, client))


@router.post(
    "/mfa/webauthn/register/verify", status_code=201, summary="Store the passkey just created"
)
def register_verify(
    body: RegisterPasskeyBody,
    user: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    passkey = services.passkeys.register(db, user, body.credential, body.name, client)
    return success(passkey_json(passkey), status_code=201)


@router.patch("/mfa/webauthn/{passkey_id}", summary="Rename a passkey")
def rename_passkey(
    passkey_id: uuid.UUID,
    body: RenamePasskeyBody,
    user: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    passkey = services.passkeys.rename(db, user, passkey_id, body.name, client)
    return success(passkey_json(passkey))


@router.delete("/mfa/webauthn/{passkey_id}", summary="Delete a passkey")
def delete_passkey(
    passkey_id: uuid.UUID,
    user: CurrentUserDep,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
) -> JSONResponse:
    services.passkeys.remove(db, user, passkey_id, client)
    return success({"message": "Passkey deleted"})


@router.post(
    "/mfa/webauthn/options",
    summary="Options to prove a passkey as a login's second factor",
    description="Body: the login's `mfaToken`; send the passkey's answer to /mfa/verify as "
    "`{mfaToken, webauthn}`.",
)
def second_factor_options(
    body: MfaTokenBody, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    return success(services.passkeys.second_factor_options(db, body.mfa_token, client))


@router.post("/webauthn/login/options", summary="Options to sign in with a passkey alone")
def login_options(services: ServicesDep, db: DbDep, client: ClientDep) -> JSONResponse:
    return success(services.passkeys.login_options(db, client))


@router.post("/webauthn/login/verify", summary="Sign in with a passkey: the login answer")
def login_verify(
    body: PasskeyLoginBody, services: ServicesDep, db: DbDep, client: ClientDep
) -> JSONResponse:
    identity = services.passkeys.identify(db, body.credential, client)
    # The password login's second half: the session, its audit row, the passkey's counter.
    issued = services.login.issue_tokens(db, identity, client)
    return success(login_json(issued))
