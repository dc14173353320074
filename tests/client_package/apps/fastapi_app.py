"""A third-party FastAPI app protected by the installed rozitech-auth wheel (environment
settings: AUTH_SERVICE_URL, AUTH_VERIFY_MODE, AUTH_SERVICE_TOKEN, ...)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, FastAPI
from rozitech_auth.fastapi import CurrentUser, Identity, lifespan, require_license, require_role

app = FastAPI(lifespan=lifespan)


def identity(user: Identity) -> dict[str, Any]:
    products = None if user.products is None else sorted(user.products)
    return {
        "userId": user.user_id,
        "email": user.email,
        "name": user.name,
        "org": user.org,
        "role": user.role,
        "products": products,
    }


@app.get("/me")
def me(user: CurrentUser) -> dict[str, Any]:
    return identity(user)


@app.get("/owners-only")
def owners_only(user: Annotated[Identity, Depends(require_role("owner"))]) -> dict[str, Any]:
    return identity(user)


@app.get("/admins-only")
def admins_only(user: Annotated[Identity, Depends(require_role("admin"))]) -> dict[str, Any]:
    return identity(user)


@app.get("/teamspace")
def teamspace(user: Annotated[Identity, Depends(require_license("teamspace"))]) -> dict[str, Any]:
    return identity(user)


@app.get("/unknown-product")
def unknown(
    user: Annotated[Identity, Depends(require_license("no-such-product"))],
) -> dict[str, Any]:
    return identity(user)
