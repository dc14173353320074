"""Sign up, then enter the e-mail verification code: the JSON API's flows as pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, LocaleDep, ServicesDep
from auth_server.errors import AuthError
from auth_server.i18n import N_
from auth_server.schemas import EmailBody, SignupBody, VerifyEmailBody
from auth_server.services import Services
from auth_server.web.csrf import CsrfDep
from auth_server.web.forms import parse
from auth_server.web.render import refused, render, text

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
RESENT = N_("If this email has an account awaiting verification, a new code is on its way.")


def signup_form(request: Request, services: Services, *, invitation: str = "") -> Response:
    """The empty sign-up form; with `invitation`, carried in a hidden field (never a URL)."""
    empty = {"email": "", "firstName": "", "lastName": "", "company": "", "phone": ""}
    return render(
        request,
        "signup.html",
        products=sorted(services.settings.product_codes),
        values={**empty, "products": []},
        invitation=invitation,
        error="",
    )


@router.get("/signup")
def signup_page(request: Request, services: ServicesDep) -> Response:
    return signup_form(request, services)


@router.post("/signup", dependencies=[CsrfDep])
def signup(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
    email: Text = "",
    password: Text = "",
    firstName: Text = "",
    lastName: Text = "",
    company: Text = "",
    phone: Text = "",
    products: Annotated[list[str] | None, Form()] = None,
    invitation: Annotated[str, Form(max_length=512)] = "",
) -> Response:
    values = {
        "email": email,
        "firstName": firstName,
        "lastName": lastName,
        "company": company,
        "phone": phone,
        "products": products or [],
    }
    try:
        fields = {**values, "password": password, "phone": phone or None}
        body = parse(SignupBody, {**fields, "invitationToken": invitation or None})
        result = services.registration.signup(
            db, body.request(locale), client, invitation_token=body.invitation_token
        )
    except AuthError as exc:
        products = sorted(services.settings.product_codes)
        return refused(
            request, "signup.html", exc, products=products, values=values, invitation=invitation
        )
    return RedirectResponse(
        "/verify-email?" + urlencode({"email": result.user.email}), status_code=303
    )


@router.get("/verify-email")
def verify_page(request: Request, email: str = "", notice: str = "") -> Response:
    return render(
        request,
        "verify_email.html",
        email=email[:254],
        notice=text(request, RESENT) if notice == "resent" else "",
        error="",
    )


@router.post("/verify-email", dependencies=[CsrfDep])
def verify(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    email: Text = "",
    code: Text = "",
) -> Response:
    try:
        body = parse(VerifyEmailBody, {"email": email, "code": code})
        user = services.registration.verify_email(db, body.email, body.code, client)
    except AuthError as exc:
        return refused(request, "verify_email.html", exc, email=email)
    return RedirectResponse(
        "/signin?" + urlencode({"notice": "verified", "login_hint": user.email}), status_code=303
    )


@router.post("/resend-verification", dependencies=[CsrfDep])
def resend(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    locale: LocaleDep,
    email: Text = "",
) -> Response:
    try:
        body = parse(EmailBody, {"email": email})
        services.registration.resend_verification(db, body.email, client, locale)
    except AuthError as exc:
        return refused(request, "verify_email.html", exc, email=email)
    # The same answer whether or not the account exists (no enumeration).
    return RedirectResponse(
        "/verify-email?" + urlencode({"email": email, "notice": "resent"}), status_code=303
    )
