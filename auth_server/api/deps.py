"""FastAPI dependencies: the services, a database session, the caller's client info."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from auth_server.errors import InvalidToken
from auth_server.services import Services
from auth_server.sessions import ClientInfo


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


def get_db(services: ServicesDep) -> Iterator[Session]:
    yield from services.database.session()


DbDep = Annotated[Session, Depends(get_db)]


def get_client_info(request: Request) -> ClientInfo:
    return ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip_address=request.client.host if request.client else None,
    )


ClientDep = Annotated[ClientInfo, Depends(get_client_info)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")


def get_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or not credentials.credentials:
        raise InvalidToken("Missing bearer token")
    return credentials.credentials


BearerDep = Annotated[str, Depends(get_bearer_token)]
