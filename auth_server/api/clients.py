"""The admin API's OpenID Connect clients (trusted services only, X-Service-Token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import JSONResponse
from pydantic import Field

from auth_server.api.deps import DbDep, ServiceDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.oidc.clients import MAX_URIS, SCOPES, ClientRegistration, client_json
from auth_server.schemas import Body

router = APIRouter(prefix="/api/admin/clients", tags=["service"])

Uris = Annotated[list[Annotated[str, Field(max_length=2000)]], Field(max_length=MAX_URIS)]
ClientId = Annotated[str, Path(max_length=64)]


class ClientBody(Body):
    name: str = Field(min_length=1, max_length=200)
    redirect_uris: Uris
    post_logout_redirect_uris: Uris = Field(default_factory=list)
    public: bool = False
    first_party: bool = False
    allowed_scopes: list[str] = Field(default_factory=lambda: list(SCOPES), max_length=10)


@router.post("", status_code=201, summary="Register a client; its secret is shown this once")
def create_client(
    body: ClientBody, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    registration = ClientRegistration(
        name=body.name,
        redirect_uris=body.redirect_uris,
        post_logout_redirect_uris=body.post_logout_redirect_uris,
        public=body.public,
        first_party=body.first_party,
        allowed_scopes=body.allowed_scopes,
    )
    registered = services.oidc.clients.create(db, registration, service)
    # clientSecret: null for a public client. Only its hash is stored: this is the one time.
    data = {**client_json(registered.client), "clientSecret": registered.secret}
    response = success(data, status_code=201)
    response.headers["Cache-Control"] = "no-store"
    return response


@router.get("", summary="The registered clients (never their secrets)")
def list_clients(services: ServicesDep, db: DbDep, _service: ServiceDep) -> JSONResponse:
    return success({"clients": [client_json(c) for c in services.oidc.clients.list(db)]})


@router.post("/{client_id}/rotate-secret", summary="A new secret; the old one stops at once")
def rotate_secret(
    client_id: ClientId, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    registered = services.oidc.clients.rotate_secret(db, client_id, service)
    response = success({**client_json(registered.client), "clientSecret": registered.secret})
    response.headers["Cache-Control"] = "no-store"
    return response


@router.delete("/{client_id}", summary="Delete a client and revoke its sessions")
def delete_client(
    client_id: ClientId, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    revoked = services.oidc.clients.delete(db, client_id, service)
    return success({"clientId": client_id, "deleted": True, "revokedSessions": revoked})
