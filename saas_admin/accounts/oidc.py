"""The SaaS Admin as an OpenID Connect client of the auth server (Authlib's Django client).

One Authlib app per process, built on first use from the settings and the auth server's
discovery document, fetched through the library's client (its breaker, timeouts and outage
mapping: an unreachable auth server is AuthServerUnavailable, a 503, never a refusal). The
document is kept for the process's life; the JWKS is refetched by Authlib on an unknown `kid`.

Authlib does the protocol: PKCE (S256) on every authorization request, `state` and `nonce`
kept in the Django session and checked on the way back, the ID token's signature (the JWKS,
the algorithms the document names), `iss`, `aud`, `exp` and `nonce` validated.
Rejected: a hand-written code flow (the issue asks for a well-kept library), and
`server_metadata_url` (Authlib's own fetch knows no breaker and no timeout).
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests
from authlib.integrations.base_client import OAuthError
from authlib.integrations.django_client import DjangoOAuth2App, OAuth
from django.conf import settings
from django.http import HttpRequest
from joserfc.errors import JoseError
from rozitech_auth.client import get_auth_client
from rozitech_auth.errors import AuthServerUnavailable

# The name Authlib keys its session data with (`_state_rozitech_<state>`).
NAME = "rozitech"
# offline_access: a refresh token, so the admin session outlives one access token.
SCOPES = "openid profile email offline_access"

# What an OAuth error code looks like (RFC 6749: `access_denied`, `login_required`, ...).
ERROR_CODE = re.compile(r"[a-z_]{1,64}")

_lock = threading.Lock()
_app: DjangoOAuth2App | None = None


class SignInFailed(Exception):
    """The auth server's refusal, as an OAuth error code (`invalid_grant`, ...)."""


def enabled() -> bool:
    """True when a client is configured: the login page then shows the button."""
    return bool(settings.SAAS_ADMIN_OIDC_CLIENT_ID)


def provider() -> DjangoOAuth2App:
    """The Authlib app of the auth server; AuthServerUnavailable while discovery fails."""
    global _app
    with _lock:
        if _app is None:
            metadata = get_auth_client().fetch_discovery()
            oauth = OAuth()
            conf = get_auth_client().conf
            _app = oauth.register(
                NAME,
                client_id=settings.SAAS_ADMIN_OIDC_CLIENT_ID,
                client_secret=settings.SAAS_ADMIN_OIDC_CLIENT_SECRET,
                client_kwargs={
                    "scope": SCOPES,
                    # PKCE even for a confidential client: a stolen code is useless alone.
                    "code_challenge_method": "S256",
                    "token_endpoint_auth_method": "client_secret_basic",
                    # A hung auth server costs a request this long, never a worker forever.
                    "default_timeout": conf.timeout,
                },
                **metadata,
            )
        return _app


def reset() -> None:
    """Forgets the app (tests point the settings at another auth server)."""
    global _app
    with _lock:
        _app = None


def exchange(request: HttpRequest) -> dict[str, Any]:
    """The tokens of the authorization response `request` carries: its state checked
    against the session, the code exchanged with the PKCE verifier, the ID token validated.
    SignInFailed when any of it fails; AuthServerUnavailable when the server cannot say."""
    with _mapped():
        token = dict(provider().authorize_access_token(request))
    # The session needs all three: a refresh token (offline_access) and the logout's hint.
    if not {"access_token", "refresh_token", "id_token"} <= token.keys():
        raise SignInFailed("invalid_response")
    return token


def refresh(refresh_token: str) -> dict[str, Any]:
    """The token endpoint's answer to a refresh_token grant (the refresh token is rotated).
    SignInFailed when the auth server refuses it; AuthServerUnavailable when it cannot say."""
    with _mapped():
        return dict(
            provider().fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
        )


def revoke(token: str) -> None:
    """RFC 7009 revocation of a refresh token (the auth server ends its session and the
    access tokens it issued); an unknown token is no error, as the RFC says."""
    app = provider()
    metadata = app.load_server_metadata()
    with _mapped(), app._get_oauth_client(**metadata) as client:
        response = client.revoke_token(
            metadata["revocation_endpoint"],
            token=token,
            token_type_hint="refresh_token",  # noqa: S106
        )
        if response.status_code >= 500:
            raise AuthServerUnavailable("The authentication service is unavailable")
        if response.status_code >= 400:
            raise SignInFailed(f"revocation refused ({response.status_code})")


@contextmanager
def _mapped() -> Iterator[None]:
    """The auth server's OAuth errors (and a bad ID token) as SignInFailed, a failed
    exchange as an outage."""
    try:
        yield
    except (OAuthError, JoseError) as exc:
        # Only a code-shaped error is repeated: the callback's `error` comes from the query
        # string, which anyone can write (no text of theirs on our page).
        code = str(exc.error or "")
        raise SignInFailed(code if ERROR_CODE.fullmatch(code) else "invalid_response") from exc
    except requests.RequestException as exc:
        raise AuthServerUnavailable("The authentication service is unavailable") from exc
