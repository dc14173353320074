"""The invitation page: join an organization with the e-mailed link, signed in, by
signing in, or by creating an account with the invitation.

The link carries the token in its fragment (never sent to a server); fragment-token.js moves
it into the page's forms, so it only ever travels in a POST body: never in a query string,
a Referer or an access log line.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import AuthError
from auth_server.web.csrf import CsrfDep
from auth_server.web.mfa_challenge import second_step
from auth_server.web.render import refused, render
from auth_server.web.signup import signup_form
from auth_server.web.sso import current_browser_session, open_browser_session, set_sso_cookie

router = APIRouter(include_in_schema=False)

PAGE = "/accept-invitation"
JOINED = "/account?notice=joined"
Token = Annotated[str, Form(max_length=512)]


@router.get(PAGE)
def invitation_page(request: Request, services: ServicesDep, db: DbDep) -> Response:
    signed_in = current_browser_session(request, services, db) is not None
    # Signed in, the script sends the review form at once: "Join <organization> as <role>".
    return render(
        request,
        "accept_invitation.html",
        script=True,
        signed_in=signed_in,
        token="",
        email="",
        error="",
    )


@router.post(f"{PAGE}/review", dependencies=[CsrfDep])
def review(request: Request, services: ServicesDep, db: DbDep, token: Token = "") -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return render(
            request, "accept_invitation.html", signed_in=False, token=token, email="", error=""
        )
    try:
        organization, role = services.invitations.preview(db, token, current.user)
    except AuthError as exc:
        return refused(request, "accept_invitation.html", exc, signed_in=True, token="")
    return render(
        request,
        "join_organization.html",
        organization=organization,
        role=role,
        email=current.user.email,
        token=token,
    )


@router.post(PAGE, dependencies=[CsrfDep])
def accept(
    request: Request, services: ServicesDep, db: DbDep, client: ClientDep, token: Token = ""
) -> Response:
    current = current_browser_session(request, services, db)
    if current is None:
        return render(
            request, "accept_invitation.html", signed_in=False, token=token, email="", error=""
        )
    try:
        services.invitations.accept(db, current.user, token, client)
    except AuthError as exc:
        return refused(request, "accept_invitation.html", exc, signed_in=True, token="")
    return RedirectResponse(JOINED, status_code=303)


@router.post(f"{PAGE}/signin", dependencies=[CsrfDep])
def signin_and_accept(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    email: Annotated[str, Form(max_length=254)] = "",
    password: Annotated[str, Form(max_length=1024)] = "",
    token: Token = "",
) -> Response:
    try:
        identity = services.login.identify(db, email, password, client)
    except AuthError as exc:
        return refused(
            request, "accept_invitation.html", exc, signed_in=False, token=token, email=email
        )
    # A second factor first; back on this page, signed in, the e-mailed link joins (the
    # token never goes into the second step's URLs).
    second = second_step(services, db, client, identity, PAGE)
    if second is not None:
        return second
    session_id, secret = open_browser_session(request, services, db, client, identity)
    try:
        services.invitations.accept(db, identity.user, token, client)
        response: Response = RedirectResponse(JOINED, status_code=303)
    except AuthError as exc:
        # Signed in all the same: the page says why the invitation was refused.
        response = refused(request, "accept_invitation.html", exc, signed_in=True, token="")
    # A new cookie value at every sign-in: no session fixation.
    set_sso_cookie(response, services, session_id, secret)
    return response


@router.post(f"{PAGE}/signup", dependencies=[CsrfDep])
def signup_with_invitation(request: Request, services: ServicesDep, token: Token = "") -> Response:
    """The sign-up page carrying the invitation in a hidden field: the new account joins
    the inviting organization (the address must be the invited one)."""
    return signup_form(request, services, invitation=token)
