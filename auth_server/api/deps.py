"""FastAPI dependencies: the services, a database session, the caller's client info.

The ones that do no I/O are `async def`: FastAPI runs a plain `def` dependency in the
thread pool, and each such hop costs a request more than the work itself (they were 5 of
/api/auth/me's 6 hops). What touches the database or Redis stays `def`.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from auth_server.errors import InvalidServiceToken, InvalidToken
from auth_server.i18n import CATALOGUES
from auth_server.models import User
from auth_server.service_auth import (
    END_USER_AGENT_HEADER,
    END_USER_IP_HEADER,
    SERVICE_TOKEN_HEADER,
)
from auth_server.services import Services
from auth_server.sessions import ClientInfo

logger = logging.getLogger("auth_server.service_auth")

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


async def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]


async def get_db(services: ServicesDep) -> AsyncIterator[Session]:
    # Making a session does no I/O (it connects on first use).
    db = services.database.session_factory()
    try:
        yield db
    finally:
        if db.in_transaction():
            # Still holding a connection (a read with no commit): its rollback is I/O.
            await run_in_threadpool(db.close)
        else:
            db.close()


DbDep = Annotated[Session, Depends(get_db)]


def client_ip(request: Request, trusted: list[IPNetwork]) -> str | None:
    """The caller's IP: the peer, or what a trusted proxy says the peer was.

    X-Forwarded-For is read only when the peer itself is a configured proxy, from the right
    (the entries proxies appended), skipping our own proxies; anything to the left of the
    first untrusted address was written by the client and is never believed.
    """
    peer = request.client.host if request.client else None
    if not trusted or peer is None or not _is_trusted(peer, trusted):
        return peer
    forwarded = ",".join(request.headers.getlist("x-forwarded-for"))
    hops = [hop.strip() for hop in forwarded.split(",") if hop.strip()]
    for hop in reversed(hops):
        try:
            address = ipaddress.ip_address(hop)
        except ValueError:
            # A malformed entry: stop believing the header at this point.
            return peer
        if not any(address in network for network in trusted):
            return str(address)
        peer = str(address)
    return peer


def _is_trusted(host: str, trusted: list[IPNetwork]) -> bool:
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    return any(address in network for network in trusted)


async def get_client_info(request: Request, services: ServicesDep) -> ClientInfo:
    peer = ClientInfo(
        user_agent=request.headers.get("user-agent"),
        ip_address=client_ip(request, services.settings.trusted_proxy_networks),
    )
    return _end_user(request, services) or peer


def _end_user(request: Request, services: Services) -> ClientInfo | None:
    """The end user a trusted service names (X-End-User-IP, X-End-User-Agent), or None.

    Believed only with a valid X-Service-Token: from anyone else the header would let a
    client pick its own address, dodging per-IP limits or framing another address.
    """
    named = request.headers.get(END_USER_IP_HEADER)
    if named is None:
        return None
    if not services.service_credentials.accepts(request.headers.get(SERVICE_TOKEN_HEADER)):
        return None
    try:
        address = ipaddress.ip_address(named.strip())
    except ValueError:
        return None
    return ClientInfo(
        user_agent=request.headers.get(END_USER_AGENT_HEADER), ip_address=str(address)
    )


ClientDep = Annotated[ClientInfo, Depends(get_client_info)]


def get_locale(request: Request) -> str:
    """The caller's language among our catalogues (Accept-Language), for what it is sent."""
    return CATALOGUES.negotiate(request.headers.get("accept-language"))


LocaleDep = Annotated[str, Depends(get_locale)]

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/auth/login")


def bearer_token_of(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token of an Authorization header, or InvalidToken when there is none."""
    if credentials is None or not credentials.credentials:
        raise InvalidToken("Missing bearer token")
    return credentials.credentials


async def get_bearer_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    return bearer_token_of(credentials)


BearerDep = Annotated[str, Depends(get_bearer_token)]
# The bearer token if one was sent (endpoints that accept another credential instead).
OptionalBearerDep = Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]


def get_current_user(token: BearerDep, services: ServicesDep, db: DbDep) -> User:
    """The user behind a valid access token of a live session (the request's one db session)."""
    return services.sessions.authenticate(db, token)


CurrentUserDep = Annotated[User, Depends(get_current_user)]

service_token_scheme = APIKeyHeader(
    name=SERVICE_TOKEN_HEADER,
    auto_error=False,
    scheme_name="ServiceToken",
    description="The shared credential of trusted services (SERVICE_TOKEN)",
)


def require_service(
    services: ServicesDep,
    client: ClientDep,
    presented: Annotated[str | None, Depends(service_token_scheme)],
) -> ClientInfo:
    """Admits trusted services only; 401 invalid_service_token for anyone else, and 429 for
    every request (right token or not) from an address that sent too many wrong ones."""
    # Checked before the token: once an address has spent its budget of wrong tokens, a
    # right one gets the same 429, so a guess can never be confirmed inside the window.
    services.limits.check_ip("service-auth", client.ip_address)
    if services.service_credentials.accepts(presented):
        return client
    # Worth an operator's eye: a misconfigured service, or someone probing the admin API.
    logger.warning(
        "Service request refused (%s X-Service-Token) from %s",
        "wrong" if presented else "no",
        client.ip_address,
    )
    # Only failures count: a trusted service's own traffic never uses up the budget.
    services.limits.hit_ip("service-auth", client.ip_address)
    raise InvalidServiceToken()


ServiceDep = Annotated[ClientInfo, Depends(require_service)]
