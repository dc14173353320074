"""The OpenID Connect provider: the long-lived parts, and the use cases routes call.

Each request gets its own Authlib server (server.py) bound to its database session; the
use cases here own their transaction (one commit, the audit row included).
"""

from __future__ import annotations

import uuid
from typing import Any

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.rpinitiated import EndSessionRequest
from sqlalchemy.orm import Session
from starlette.responses import Response

from auth_server.amr import ACR_MFA, ACR_PASSWORD
from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.config import Settings
from auth_server.keys import ALGORITHM, KeyStore
from auth_server.models import AuthSession
from auth_server.oidc.claims import CLAIMS_SUPPORTED
from auth_server.oidc.clients import SCOPES, Clients
from auth_server.oidc.codes import Codes
from auth_server.oidc.models import Consent, OidcClient, OidcGrant
from auth_server.oidc.server import GRANT_TYPES, OidcServer
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo, Sessions
from auth_server.tokens import AccessTokens

# The provider's endpoints, under the public URL (discovery lists them).
AUTHORIZE_PATH = "/oauth2/authorize"
TOKEN_PATH = "/oauth2/token"  # noqa: S105 - a path, not a secret
USERINFO_PATH = "/oauth2/userinfo"
REVOKE_PATH = "/oauth2/revoke"
END_SESSION_PATH = "/oauth2/logout"


class OidcProvider:
    def __init__(
        self,
        settings: Settings,
        clock: Clock,
        keys: KeyStore,
        tokens: AccessTokens,
        sessions: Sessions,
        revocations: Revocations,
        audit: AuditLog,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.keys = keys
        self.tokens = tokens
        self.sessions = sessions
        self.revocations = revocations
        self.audit = audit
        self.clients = Clients(clock, audit, revocations, allow_http=not settings.is_production)
        self.codes = Codes(clock, sessions, revocations, audit, ttl=settings.oidc_code_ttl)

    def server(self, db: Session, client_info: ClientInfo) -> OidcServer:
        return OidcServer(self, db, client_info)

    # -- consent -------------------------------------------------------------------------

    def needs_consent(
        self, db: Session, client: OidcClient, user_id: uuid.UUID, scope: str
    ) -> bool:
        """First-party clients never ask; others ask once per user, client and scopes."""
        if client.first_party:
            return False
        consent = db.get(Consent, (user_id, client.client_id))
        granted = set(consent.scope.split()) if consent else set()
        return not set(scope_to_list(scope) or []) <= granted

    def authorize(
        self,
        db: Session,
        server: OidcServer,
        request: Any,
        grant: Any,
        browser: Any,
        *,
        consented: bool,
    ) -> Response:
        """Issues the code (Authlib redirects with it), remembering a consent given just
        now, in one transaction."""
        client: OidcClient = request.client.row
        if consented:
            consent = db.get(Consent, (browser.user.id, client.client_id))
            scopes = set(scope_to_list(request.scope) or [])
            if consent is None:
                db.add(
                    Consent(
                        user_id=browser.user.id,
                        client_id=client.client_id,
                        scope=" ".join(s for s in SCOPES if s in scopes),
                        created_at=self.clock.now(),
                    )
                )
            else:
                scopes |= set(consent.scope.split())
                consent.scope = " ".join(s for s in SCOPES if s in scopes)
            self.audit.add(
                db,
                "oidc_consent_granted",
                client=server.client_info,
                user_id=browser.user.id,
                details={"client": client.client_id, "scope": request.scope},
            )
        response: Response = server.create_authorization_response(
            request, grant_user=browser, grant=grant
        )
        db.commit()
        return response

    def deny(self, server: OidcServer, request: Any, grant: Any) -> Response:
        """The user said no: access_denied, back to the client (RFC 6749 4.1.2.1)."""
        response: Response = server.create_authorization_response(
            request, grant_user=None, grant=grant
        )
        return response

    # -- logout --------------------------------------------------------------------------

    def end_session(
        self,
        db: Session,
        request: EndSessionRequest,
        client_info: ClientInfo,
        browser_session_id: uuid.UUID | None,
    ) -> None:
        """Ends the browser session (of the cookie, and the one the ID token names) and
        with it every session a client made from it; each leaves a feed event."""
        ending = {browser_session_id} if browser_session_id else set()
        claims = request.id_token_claims or {}
        # Only an ID token of ours, for a client we know (an access token is signed by the
        # same key, but names no client as its audience).
        if request.client is not None and claims.get("iss") == self.settings.jwt_issuer:
            named = _session_named(db, claims.get("sid"))
            if named is not None:
                ending.add(named.parent_id or named.id)
        for session_id in ending:
            user_id = self.revocations.revoke_session(db, session_id, reason="logout")
            if user_id is not None:
                self.audit.add(
                    db,
                    "logout",
                    client=client_info,
                    user_id=user_id,
                    details={"session": str(session_id), "via": "end_session"},
                )
        db.commit()

    # -- discovery -----------------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        base = self.settings.auth_public_url.rstrip("/")
        return {
            "issuer": self.settings.jwt_issuer,
            "authorization_endpoint": base + AUTHORIZE_PATH,
            "token_endpoint": base + TOKEN_PATH,
            "userinfo_endpoint": base + USERINFO_PATH,
            "jwks_uri": f"{base}/.well-known/jwks.json",
            "end_session_endpoint": base + END_SESSION_PATH,
            "revocation_endpoint": base + REVOKE_PATH,
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": list(GRANT_TYPES),
            "code_challenge_methods_supported": ["S256"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "revocation_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
                "none",
            ],
            "scopes_supported": list(SCOPES),
            "claims_supported": CLAIMS_SUPPORTED,
            "prompt_values_supported": ["none", "login", "consent"],
            # acr_values=urn:rozitech:acr:mfa asks for a second factor (oidc/routes.py).
            "acr_values_supported": [ACR_MFA, ACR_PASSWORD],
            "claims_parameter_supported": False,
            "request_parameter_supported": False,
            "request_uri_parameter_supported": False,
            # Ours, kept from the document before: what resource servers verify access
            # tokens against (their `aud`), and how long those live.
            "audience": self.settings.jwt_audience,
            "access_token_lifetime": self.settings.access_token_ttl,
        }


def _session_named(db: Session, sid: object) -> AuthSession | None:
    """The session an ID token's `sid` names, if it is one the token endpoint made."""
    try:
        session_id = uuid.UUID(str(sid))
    except ValueError:
        return None
    if db.get(OidcGrant, session_id) is None:
        return None
    return db.get(AuthSession, session_id)
