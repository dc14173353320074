"""Endpoints for trusted services only (X-Service-Token): the revocation feed, admin API."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse
from pydantic import AwareDatetime, Field

from auth_server.administration import LicenseUpdate, UserChange
from auth_server.api.deps import DbDep, LocaleDep, ServiceDep, ServicesDep
from auth_server.api.envelope import success
from auth_server.models import License
from auth_server.presenters import iso, user_json
from auth_server.revocation_waiters import MAX_WAIT
from auth_server.revocations import event_json
from auth_server.schemas import Body

feed_router = APIRouter(prefix="/api/auth", tags=["service"])
router = APIRouter(prefix="/api/admin", tags=["service"])

# Largest cursor and version accepted: a signed 64-bit integer, the column's range.
MAX_INT64 = 2**63 - 1


@feed_router.get(
    "/revocations",
    summary="Live revocation events after a cursor (service clients only)",
    description="With `wait` (seconds), an empty answer is held until an event after "
    "`since` is committed (answered at once) or the time is up (an empty page): long polling.",
)
async def revocations(
    services: ServicesDep,
    _service: ServiceDep,
    since: Annotated[int, Query(ge=0, le=MAX_INT64)] = 0,
    limit: Annotated[int | None, Query(ge=1, le=10000)] = None,
    wait: Annotated[float, Query(ge=0, le=MAX_WAIT)] = 0,
) -> JSONResponse:
    # Async, without a database session dependency: a waiting request holds neither a
    # thread nor a connection (revocation_waiters.py).
    page = await services.waiting_feed.page(since, limit, wait)
    response = success(
        {
            "events": [event_json(event) for event in page.events],
            "cursor": str(page.cursor),
            "hasMore": page.has_more,
        }
    )
    # A cached page would hide new revocations from whoever read it through a cache.
    response.headers["Cache-Control"] = "no-store"
    return response


def _user_change_json(change: UserChange) -> dict[str, Any]:
    return {
        "user": user_json(change.user),
        "changed": change.changed,
        "revokedSessions": change.revoked_sessions,
    }


@router.post("/users/{user_id}/disable", summary="Disable a user and revoke every session")
def disable_user(
    user_id: uuid.UUID, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    return success(_user_change_json(services.administration.disable_user(db, user_id, service)))


@router.post("/users/{user_id}/enable", summary="Enable a disabled user")
def enable_user(
    user_id: uuid.UUID, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    return success(_user_change_json(services.administration.enable_user(db, user_id, service)))


@router.delete(
    "/users/{user_id}",
    summary="Erase a user: sessions revoked, personal data deleted (GDPR erasure)",
)
def delete_user(
    user_id: uuid.UUID, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    count = services.erasure.erase(
        db, user_id, reason="user_deleted", client=service, details={"actor": "service"}
    )
    return success({"id": str(user_id), "deleted": True, "revokedSessions": count})


@router.delete(
    "/users/{user_id}/mfa",
    summary="Reset a user's second factors (authenticator app, recovery codes)",
    description="Audited; the user is mailed; every session of the user is revoked (whoever "
    "holds one may be who took the factor over). The user then signs in with the password "
    "and, if an organization requires it, enrols again.",
)
def reset_mfa(
    user_id: uuid.UUID, services: ServicesDep, db: DbDep, service: ServiceDep, locale: LocaleDep
) -> JSONResponse:
    count = services.mfa_enrolment.reset(db, user_id, service, locale)
    return success({"id": str(user_id), "mfaReset": True, "revokedSessions": count})


@router.post("/sessions/{session_id}/revoke", summary="Revoke one session of any user")
def revoke_session(
    session_id: uuid.UUID, services: ServicesDep, db: DbDep, service: ServiceDep
) -> JSONResponse:
    changed = services.administration.revoke_session(db, session_id, service)
    return success({"id": str(session_id), "revoked": True, "changed": changed})


class LicenseBody(Body):
    status: Literal["trial", "active", "past_due", "cancelled", "expired"]
    # With a time zone: a naive time would be read differently by different servers.
    expires_at: AwareDatetime | None
    version: int = Field(ge=0, le=MAX_INT64, strict=True)
    # The plan's most members (null or absent: no limit); acceptances beyond it get 409.
    seats: int | None = Field(default=None, ge=1, le=1_000_000, strict=True)


def license_json(license_: License) -> dict[str, Any]:
    return {
        "organizationId": str(license_.organization_id),
        "productCode": license_.product_code,
        "status": license_.status,
        "expiresAt": iso(license_.expires_at),
        "version": license_.version,
        "seats": license_.seats,
        "updatedAt": iso(license_.updated_at),
    }


@router.put(
    "/organizations/{organization_id}/licenses/{product_code}",
    summary="Set an organization's license of a product (idempotent, versioned)",
)
def put_license(
    organization_id: uuid.UUID,
    product_code: str,
    body: LicenseBody,
    services: ServicesDep,
    db: DbDep,
    service: ServiceDep,
) -> JSONResponse:
    expires_at: datetime | None = body.expires_at
    change = services.administration.put_license(
        db,
        organization_id,
        product_code,
        LicenseUpdate(
            status=body.status, expires_at=expires_at, version=body.version, seats=body.seats
        ),
        service,
    )
    return success({"license": license_json(change.license), "applied": change.applied})
