"""Sign up, then enter the e-mail verification code: the JSON API's flows as pages."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import AuthError
from auth_server.i18n import N_
from auth_server.schemas import EmailBody, SignupBody, VerifyEmailBody
from auth_server.web.csrf import CsrfDep
from auth_server.web.forms import parse
from auth_server.web.render import refused, render, text

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
RESENT = N_("If this email has an account awaiting verification, a new code is on its way.")


@router.get("/signup")
def signup_page(request: Request, services: ServicesDep) -> Response:
    empty = {"email": "", "firstName": "", "lastName": "", "company": "", "phone": ""}
    return render(
        request,
        "signup.html",
        products=sorted(services.settings.product_codes),
        values={**empty, "products": []},
        error="",
    )


@router.post("/signup", dependencies=[CsrfDep])
def signup(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    background: BackgroundTasks,
    email: Text = "",
    password: Text = "",
    firstName: Text = "",
    lastName: Text = "",
    company: Text = "",
    phone: Text = "",
    products: Annotated[list[str] | None, Form()] = None,
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
        body = parse(SignupBody, {**values, "password": password, "phone": phone or None})
        result = services.registration.signup(db, body.request(), client)
    except AuthError as exc:
        products = sorted(services.settings.product_codes)
        return refused(request, "signup.html", exc, products=products, values=values)
    # Sent after the response, so a slow mail server never slows the sign-up.
    background.add_task(services.accounts.send_verification_code, result.user.email, result.code)
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
    background: BackgroundTasks,
    email: Text = "",
) -> Response:
    try:
        body = parse(EmailBody, {"email": email})
        pending = services.registration.resend_verification(db, body.email, client)
    except AuthError as exc:
        return refused(request, "verify_email.html", exc, email=email)
    if pending is not None:
        user, code = pending
        background.add_task(services.accounts.send_verification_code, user.email, code)
    # The same answer whether or not the account exists (no enumeration).
    return RedirectResponse(
        "/verify-email?" + urlencode({"email": email, "notice": "resent"}), status_code=303
    )
