"""Sign in with Rozitech: the admin site's login through the auth server's OpenID Connect
provider (code flow with PKCE), and the logout that ends the single sign-on session too.

The sign-in ends like the password form's login: the access and refresh tokens in the Django
session (accounts.sessions), the user and staff flags from the auth server's answer to /me
with the new access token, so that the session ends when the auth-server session ends.
The ID token (validated by Authlib) is kept too: it is the `id_token_hint` of the logout.

With ADMIN_REQUIRE_MFA the authorization request asks for two-step verification
(`acr_values`), and a staff sign-in whose token's `amr` still names no second factor gets
the step-up page (its button starts the sign-in again) instead of staff rights.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.auth import REDIRECT_FIELD_NAME, login, logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from rozitech_auth.amr import ACR_MFA
from rozitech_auth.django.authentication import end_user
from rozitech_auth.errors import AuthServerUnavailable, TokenError

from accounts import oidc
from accounts.middleware import unavailable
from accounts.sessions import ID_TOKEN_KEY, end_auth_server_session, verified_user

# Where the sign-in goes once done: checked to be a path of this site when it is stored.
NEXT_KEY = "rozitech_signin_next"
BACKEND = "accounts.backends.AuthServerBackend"


def _absolute(request: HttpRequest, configured: str, view: str) -> str:
    return configured or request.build_absolute_uri(reverse(view))


@require_GET
@never_cache
def start(request: HttpRequest) -> HttpResponse:
    """Sends the browser to the auth server's authorization endpoint."""
    if not oidc.enabled():
        return HttpResponseRedirect(reverse("admin:login"))
    target = request.GET.get(REDIRECT_FIELD_NAME, "")
    # Only a path of this site: the button must not become an open redirect.
    safe = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    request.session[NEXT_KEY] = target if safe and target else reverse("admin:index")
    redirect_uri = _absolute(request, settings.SAAS_ADMIN_OIDC_REDIRECT_URI, "sso-callback")
    # Asks the provider for a second factor up front; the callback still checks `amr`
    # (acr_values is a request, not a guarantee).
    extra = {"acr_values": ACR_MFA} if settings.ADMIN_REQUIRE_MFA else {}
    try:
        response: HttpResponse = oidc.provider().authorize_redirect(request, redirect_uri, **extra)
    except AuthServerUnavailable as exc:
        return unavailable(exc)
    return response


@require_GET
@never_cache
def callback(request: HttpRequest) -> HttpResponse:
    """The authorization response: state, code exchange (with the PKCE verifier), ID token;
    then the Django session bound to the auth-server session, for staff only."""
    try:
        token = oidc.exchange(request)
    except AuthServerUnavailable as exc:
        return unavailable(exc)
    except oidc.SignInFailed as exc:
        # A wrong or replayed state, an error from the provider, a bad ID token: nobody is
        # signed in, and the page says so.
        return refused(request, f"Sign-in with Rozitech did not complete ({exc}).", 400)
    tokens = {"access": str(token["access_token"]), "refresh": str(token["refresh_token"])}
    try:
        user = verified_user(tokens["access"])
    except TokenError:
        return refused(request, "The authentication service refused the sign-in.", 400)
    except AuthServerUnavailable as exc:
        return unavailable(exc)
    if not user.is_staff:
        # Not let in: the tokens issued for this site must not live on. The person stays
        # signed in at the auth server (other products may be theirs).
        end_auth_server_session(tokens["refresh"], end_user(request), oidc_bound=True)
        if user.step_up_needed:
            return step_up(request)
        return refused(request, "This account has no access to the admin site.", 403)
    user.auth_server_tokens = tokens
    # Cycles the session key (no fixation); accounts.sessions binds the tokens to it.
    login(request, user, backend=BACKEND)
    request.session[ID_TOKEN_KEY] = str(token["id_token"])
    return HttpResponseRedirect(request.session.pop(NEXT_KEY, reverse("admin:index")))


def login_page(request: HttpRequest) -> HttpResponse:
    """The admin site's login view, its page showing the button when a client is set; the
    step-up page for a session whose staff sign-in lacks the required second factor."""
    if getattr(request.user, "step_up_needed", False):
        # Ended (here and at the auth server): the sign-in with a second factor starts anew.
        logout(request)
        return step_up(request)
    return admin.site.login(request, extra_context={"sso_enabled": oidc.enabled()})


def step_up(request: HttpRequest) -> HttpResponse:
    """The page saying that the admin site requires a second factor, its button starting
    "Sign in with Rozitech" again (which asks for one); 403: no staff rights were given."""
    target = request.session.get(NEXT_KEY) or request.GET.get(REDIRECT_FIELD_NAME, "")
    context = {
        **admin.site.each_context(request),
        "title": "Two-step verification required",
        # As on the login page: nobody here may see the site's navigation.
        "is_nav_sidebar_enabled": False,
        "sso_enabled": oidc.enabled(),
        "next": target,
    }
    return TemplateResponse(request, "accounts/step_up.html", context, status=403)


def refused(request: HttpRequest, message: str, status: int) -> HttpResponse:
    """The admin login page with `message`, answering `status`."""
    response = admin.site.login(
        request,
        extra_context={
            "sso_error": message,
            "sso_enabled": oidc.enabled(),
            # The password form posts to the login page, not to this callback.
            "app_path": reverse("admin:login"),
        },
    )
    response.status_code = status
    return response


@require_POST
@never_cache
def logout_everywhere(request: HttpRequest) -> HttpResponse:
    """The admin site's logout (POST, CSRF-checked); a session that signed in through the
    auth server then goes to its end_session_endpoint, which ends the single sign-on session
    and comes back to the login page (RP-initiated logout)."""
    id_token = request.session.get(ID_TOKEN_KEY)
    if not isinstance(id_token, str) or not oidc.enabled():
        return admin.site.logout(request)
    # Ends this site's auth-server session first (accounts.sessions), whatever the browser
    # does next.
    logout(request)
    try:
        response: HttpResponse = oidc.provider().logout_redirect(
            request,
            post_logout_redirect_uri=_absolute(
                request, settings.SAAS_ADMIN_OIDC_POST_LOGOUT_REDIRECT_URI, "admin:login"
            ),
            id_token_hint=id_token,
        )
    except AuthServerUnavailable:
        return HttpResponseRedirect(reverse("admin:login"))
    return response
