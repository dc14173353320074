"""A FastAPI app that configures rozitech-auth in code rather than through AUTH_* variables."""

from __future__ import annotations

import os
from typing import Any

from fastapi import FastAPI
from rozitech_auth.fastapi import CurrentUser, configure, lifespan

configure(AUTH_SERVICE_URL=os.environ["PRODUCT_AUTH_URL"], AUTH_VERIFY_MODE="remote")
app = FastAPI(lifespan=lifespan)


@app.get("/me")
def me(user: CurrentUser) -> dict[str, Any]:
    return {"userId": user.user_id, "mode": user.mode, "licenses": user.licenses}
