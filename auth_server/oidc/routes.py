"""The provider's HTTP endpoints: thin, each parses, calls Authlib or a use case, presents.

Authlib is synchronous and so is the database: the form (if any) is read in the event
loop, then the work runs in the thread pool.
"""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oidc.core.errors import ConsentRequiredError, LoginRequiredError
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from auth_server.amr import ACR_MFA, acr_for
from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import RateLimited
from auth_server.oidc.adapter import (
    StarletteOAuth2Request,
    rate_limited_response,
    read_oauth2_request,
    requested_client_id,
)
from auth_server.oidc.pages import scope_texts
from auth_server.oidc.provider import (
    AUTHORIZE_PATH,
    END_SESSION_PATH,
    REVOKE_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
)
from auth_server.oidc.server import OidcServer
from auth_server.services import Services
from auth_server.sessions import ClientInfo
from auth_server.web.csrf import require_csrf
from auth_server.web.mfa_challenge import step_up
from auth_server.web.render import error_page, render, text
from auth_server.web.sso import (
    BrowserSession,
    clear_sso_cookie,
    current_browser_session,
    signin_redirect,
)

router = APIRouter(tags=["openid-connect"])

# Parameters that are the form's own, never the authorization request's.
_FORM_ONLY = {"csrf_token", "decision", "confirm"}


@router.get("/.well-known/openid-configuration", summary="OpenID Connect discovery")
def openid_configuration(services: ServicesDep) -> JSONResponse:
    return JSONResponse(services.oidc.discovery(), headers={"Cache-Control": "public, max-age=300"})


async def _oauth(request: Request, services: Services) -> StarletteOAuth2Request:
    return await read_oauth2_request(request, services.settings.auth_public_url)


@router.get(AUTHORIZE_PATH, summary="Authorization endpoint (code flow, PKCE S256)")
async def authorize(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    oauth = await _oauth(request, services)
    return await run_in_threadpool(_authorize, request, services, db, client, oauth, None)


@router.post(
    AUTHORIZE_PATH,
    summary="The consent form's answer",
    dependencies=[Depends(require_csrf)],
)
async def consent(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    oauth = await _oauth(request, services)
    decision = oauth.form.get("decision")
    return await run_in_threadpool(_authorize, request, services, db, client, oauth, decision)


def _authorize(
    request: Request,
    services: Services,
    db: Session,
    client_info: ClientInfo,
    oauth: StarletteOAuth2Request,
    decision: str | None,
) -> Response:
    try:
        services.limits.hit_authorize(client_info.ip_address)
    except RateLimited as exc:
        # The error page, never a redirect: the redirect URI is not even checked yet.
        return error_page(request, exc, back="/account")
    server = services.oidc.server(db, client_info)
    browser = current_browser_session(request, services, db)
    try:
        grant = server.get_consent_grant(oauth, end_user=browser)
        data = oauth.payload.data
        prompts = set(data.get("prompt", "").split())
        if browser is None or "login" in prompts or _too_old(services, browser, data):
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            return signin_redirect(
                _authorize_url(data, drop_prompt="login"),
                force_login=browser is not None,
                login_hint=data.get("login_hint"),
            )
        if _asks_mfa(data) and acr_for(browser.amr) != ACR_MFA:
            # The client asked for a second factor this browser session never gave: the
            # second step (or enrolment) first, then this request again.
            if "none" in prompts:
                raise LoginRequiredError(redirect_uri=grant.redirect_uri)
            return step_up(
                services, db, client_info, browser, _authorize_url(data, drop_prompt="login")
            )
        row = oauth.client.row
        asks = "consent" in prompts or services.oidc.needs_consent(
            db, row, browser.user.id, oauth.scope
        )
        if decision == "allow":
            return services.oidc.authorize(db, server, oauth, grant, browser, consented=True)
        if decision is not None:
            return services.oidc.deny(server, oauth, grant)
        if asks:
            if "none" in prompts:
                raise ConsentRequiredError(redirect_uri=grant.redirect_uri)
            return _consent_page(request, oauth, browser)
        return services.oidc.authorize(db, server, oauth, grant, browser, consented=False)
    except OAuth2Error as error:
        error.state = oauth.payload.state
        if not error.redirect_uri:
            # Unknown client or unregistered redirect URI: never redirected to (RFC 6749
            # 4.1.2.1), or the server would be an open redirector.
            return _error_page(request, error)
        response: Response = server.handle_error_response(oauth, error)
        return response


def _asks_mfa(data: dict[str, str]) -> bool:
    """acr_values names the class of a sign-in with a second factor (a voluntary claim,
    OIDC Core 3.1.2.1; this provider honours it, and the ID token's `acr` says so)."""
    return ACR_MFA in data.get("acr_values", "").split()


def _too_old(services: Services, browser: BrowserSession, data: dict[str, str]) -> bool:
    """max_age: the sign-in must be at most that many seconds old (else sign in again)."""
    raw = data.get("max_age")
    if raw is None:
        return False
    if not raw.isdigit() or len(raw) > 10:
        raise InvalidRequestError("Invalid 'max_age'")
    return services.clock.now() - browser.auth_time > timedelta(seconds=int(raw))


def _authorize_url(data: dict[str, str], *, drop_prompt: str | None = None) -> str:
    """The authorization request again (where the sign-in page comes back to), without
    what the sign-in satisfies (prompt=login, max_age): it must not ask again."""
    params = {k: v for k, v in data.items() if k not in _FORM_ONLY and k != "max_age"}
    if drop_prompt and "prompt" in params:
        kept = [p for p in params["prompt"].split() if p != drop_prompt]
        if kept:
            params["prompt"] = " ".join(kept)
        else:
            del params["prompt"]
    return f"{AUTHORIZE_PATH}?{urlencode(params)}"


def _consent_page(
    request: Request, oauth: StarletteOAuth2Request, browser: BrowserSession
) -> Response:
    data = oauth.payload.data
    params = [(k, v) for k, v in data.items() if k not in _FORM_ONLY and k != "prompt"]
    return render(
        request,
        "oidc/consent.html",
        client_name=oauth.client.row.name,
        email=browser.user.email,
        scopes=scope_texts(request, oauth.scope),
        action=AUTHORIZE_PATH,
        params=params,
    )


def _error_page(request: Request, error: OAuth2Error) -> Response:
    return render(
        request,
        "error.html",
        status_code=400,
        title=text(request, "This sign-in link does not work"),
        message=error.description or error.error,
        code=error.error,
        back="/account",
    )


async def _endpoint(
    request: Request, services: Services, db: Session, client: ClientInfo, name: str
) -> Response:
    """One of Authlib's non-interactive endpoints (token, revocation, userinfo)."""
    oauth = await _oauth(request, services)
    server = services.oidc.server(db, client)
    if name == "token":
        return await run_in_threadpool(_token, services, server, client, oauth)
    return await run_in_threadpool(server.create_endpoint_response, name, oauth)


def _token(
    services: Services, server: OidcServer, client: ClientInfo, oauth: StarletteOAuth2Request
) -> Response:
    try:
        # Every request, before any client authentication or code lookup: a flood from one
        # address costs no database work beyond its budget.
        services.limits.hit_token(client.ip_address)
        response: Response = server.create_token_response(oauth)
        if server.client_refused:
            # Per client_id only the failed authentications (a wrong secret, an unknown
            # client): anyone can name a client, and its own authenticated exchanges must
            # not be refused because others guess its secret from many addresses.
            services.limits.hit_token_client_refused(requested_client_id(oauth))
    except RateLimited as exc:
        return rate_limited_response(exc)
    return response


@router.post(TOKEN_PATH, summary="Token endpoint (authorization_code, refresh_token)")
async def token(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    return await _endpoint(request, services, db, client, "token")


@router.post(REVOKE_PATH, summary="Token revocation (RFC 7009)")
async def revoke(request: Request, services: ServicesDep, db: DbDep, client: ClientDep) -> Response:
    return await _endpoint(request, services, db, client, "revocation")


@router.api_route(USERINFO_PATH, methods=["GET", "POST"], summary="UserInfo endpoint")
async def userinfo(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    return await _endpoint(request, services, db, client, "userinfo")


@router.get(END_SESSION_PATH, summary="RP-initiated logout (end_session_endpoint)")
async def end_session(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    oauth = await _oauth(request, services)
    return await run_in_threadpool(_end_session, request, services, db, client, oauth, False)


@router.post(
    END_SESSION_PATH,
    summary="RP-initiated logout, confirmed on its page",
    dependencies=[Depends(require_csrf)],
)
async def end_session_confirmed(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep
) -> Response:
    oauth = await _oauth(request, services)
    return await run_in_threadpool(_end_session, request, services, db, client, oauth, True)


def _end_session(
    request: Request,
    services: Services,
    db: Session,
    client_info: ClientInfo,
    oauth: StarletteOAuth2Request,
    confirmed: bool,
) -> Response:
    server = services.oidc.server(db, client_info)
    browser = current_browser_session(request, services, db)
    try:
        validated = server.validate_endpoint_request("end_session", oauth)
    except OAuth2Error as error:
        return _error_page(request, error)
    # Without an ID token of ours, a link elsewhere could sign people out: ask them first
    # (RP-Initiated Logout 1.0, section 6). Likewise with someone else's ID token.
    hinted = (validated.id_token_claims or {}).get("sub")
    foreign = browser is not None and hinted is not None and hinted != str(browser.user.id)
    if (validated.needs_confirmation or foreign) and not confirmed and browser is not None:
        data = oauth.payload.data
        params = [(k, v) for k, v in data.items() if k not in _FORM_ONLY]
        return render(
            request, "oidc/logout.html", signed_out=False, action=END_SESSION_PATH, params=params
        )
    server.browser_session_id = browser.session_id if browser else None
    response: Response | None = server.create_endpoint_response("end_session", validated)
    if response is None:
        response = render(request, "oidc/logout.html", signed_out=True)
    clear_sso_cookie(response, services)
    return response
