"""Forgot password and reset password: the JSON API's flows as pages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Form, Request
from fastapi.responses import RedirectResponse, Response

from auth_server.api.deps import ClientDep, DbDep, ServicesDep
from auth_server.errors import AuthError, ValidationFailed
from auth_server.i18n import N_
from auth_server.schemas import EmailBody, ResetPasswordBody
from auth_server.web.csrf import CsrfDep
from auth_server.web.forms import parse
from auth_server.web.render import refused, render, text
from auth_server.web.sso import clear_sso_cookie

router = APIRouter(include_in_schema=False)

Text = Annotated[str, Form(max_length=1024)]
SENT = N_("If an account exists for this email, a password reset link is on its way.")


@router.get("/forgot-password")
def forgot_page(request: Request, notice: str = "") -> Response:
    return render(
        request,
        "forgot_password.html",
        email="",
        notice=text(request, SENT) if notice == "sent" else "",
        error="",
    )


@router.post("/forgot-password", dependencies=[CsrfDep])
def forgot(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    background: BackgroundTasks,
    email: Text = "",
) -> Response:
    try:
        body = parse(EmailBody, {"email": email})
        reset = services.password_flows.forgot(db, body.email, client)
    except AuthError as exc:
        return refused(request, "forgot_password.html", exc, email=email)
    if reset is not None:
        # Sent after the response: a slow mail server would otherwise tell who has an account.
        background.add_task(services.recovery.send_reset_link, reset)
    # The same page whether or not the account exists (no enumeration).
    return RedirectResponse("/forgot-password?notice=sent", status_code=303)


@router.get("/reset-password")
def reset_page(request: Request, token: str = "") -> Response:
    # The default link carries the token in the fragment: reset-token.js moves it in.
    return render(request, "reset_password.html", script=True, token=token[:512], error="")


@router.post("/reset-password", dependencies=[CsrfDep])
def reset(
    request: Request,
    services: ServicesDep,
    db: DbDep,
    client: ClientDep,
    background: BackgroundTasks,
    token: Text = "",
    password: Text = "",
    confirm: Text = "",
) -> Response:
    try:
        if password != confirm:
            raise ValidationFailed(errors={"confirm": [N_("The two passwords differ")]})
        body = parse(ResetPasswordBody, {"token": token, "password": password})
        user = services.password_flows.reset(db, body.token, body.password, client)
    except AuthError as exc:
        return refused(request, "reset_password.html", exc, script=True, token=token)
    background.add_task(services.recovery.send_password_changed, user.email)
    response = RedirectResponse("/signin?notice=reset", status_code=303)
    # Every session ended with the reset, this browser's too.
    clear_sso_cookie(response, services)
    return response
