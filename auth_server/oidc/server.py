"""Authlib's AuthorizationServer for one request: our clients, grants and endpoints.

Built per request around that request's database session (Authlib's models reach their
storage through the server), so nothing is shared between threads but the provider.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    ClientMixin,
    InvalidClientError,
    InvalidGrantError,
)
from sqlalchemy.orm import Session
from starlette.responses import Response

from auth_server.oidc.adapter import StarletteOAuth2Request, to_response
from auth_server.oidc.clients import SCOPES, secret_matches
from auth_server.oidc.codes import CodeNotExchangeable
from auth_server.oidc.endpoints import EndSession, Revocation, UserInfo
from auth_server.oidc.grants import (
    AuthorizationCodeGrant,
    CodeSubject,
    IdTokens,
    PkceS256,
    RefreshSubject,
    RefreshTokenGrant,
)
from auth_server.oidc.models import OidcClient
from auth_server.sessions import ClientInfo

if TYPE_CHECKING:
    from auth_server.oidc.provider import OidcProvider

GRANT_TYPES = ("authorization_code", "refresh_token")


class ClientModel(ClientMixin):  # type: ignore[misc]
    """Authlib's view of a registered client."""

    def __init__(self, row: OidcClient) -> None:
        self.row = row
        self.client_id = row.client_id
        self.public = row.public
        # What Authlib's end-session and userinfo endpoints read.
        self.client_metadata = {"post_logout_redirect_uris": row.post_logout_redirect_uris}

    def get_client_id(self) -> str:
        return self.client_id

    def get_default_redirect_uri(self) -> None:
        # None: the redirect URI is required in every request and matched exactly.
        return None

    def get_allowed_scope(self, scope: str | None) -> str | None:
        allowed = self.row.allowed_scopes.split()
        requested = (scope or "").split()
        granted = [s for s in SCOPES if s in requested and s in allowed]
        return " ".join(granted) if granted else None

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # Exact string match, as registered (no prefix, no wildcard: OAuth 2.1 / RFC 9700).
        return redirect_uri in self.row.redirect_uris

    def check_client_secret(self, client_secret: str) -> bool:
        return secret_matches(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        # A confidential client must use its secret; a public one has none to use.
        if self.public:
            return method == "none"
        return method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code"

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in GRANT_TYPES


class OidcServer(AuthorizationServer):  # type: ignore[misc]
    def __init__(self, provider: OidcProvider, db: Session, client_info: ClientInfo) -> None:
        super().__init__(scopes_supported=list(SCOPES))
        self.provider = provider
        self.db = db
        self.client_info = client_info
        # The browser session of the request's cookie (end-session ends it).
        self.browser_session_id: uuid.UUID | None = None
        # Whether the request's client authentication failed (the token endpoint counts
        # those per client_id: OAUTH_TOKEN_PER_CLIENT).
        self.client_refused = False
        self.register_token_generator("default", self._generate_token)
        self.register_grant(AuthorizationCodeGrant, [PkceS256(required=True), IdTokens(self)])
        self.register_grant(RefreshTokenGrant)
        self.register_endpoint(Revocation)
        self.register_endpoint(UserInfo(self))
        self.register_endpoint(EndSession)

    def authenticate_client(
        self, request: StarletteOAuth2Request, methods: list[str], endpoint: str = "token"
    ) -> ClientModel:
        try:
            client: ClientModel = super().authenticate_client(request, methods, endpoint)
        except InvalidClientError:
            self.client_refused = True
            raise
        return client

    def query_client(self, client_id: str) -> ClientModel | None:
        row = self.provider.clients.get(self.db, client_id)
        return ClientModel(row) if row is not None else None

    def _generate_token(
        self,
        grant_type: str,
        client: ClientModel,
        user: CodeSubject | RefreshSubject | None = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        if isinstance(user, CodeSubject):
            try:
                issued = self.provider.codes.exchange(
                    self.db, user.code, scope or "", self.client_info
                )
            except CodeNotExchangeable as exc:
                raise InvalidGrantError() from exc
        elif isinstance(user, RefreshSubject):
            issued = user.issued
        else:
            raise InvalidGrantError()
        return {
            "token_type": "Bearer",
            "access_token": issued.access_token,
            "refresh_token": issued.refresh_token,
            "expires_in": issued.expires_in,
            "scope": scope,
        }

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        """The tokens' session is written (codes.exchange, sessions.refresh): commit it,
        with its audit row, in one transaction."""
        subject = request.user
        if isinstance(subject, CodeSubject):
            session_id = subject.code.session_id
            event: str | None = "oidc_code_exchanged"
        else:
            session_id = subject.issued.session_id
            # As the JSON API's refresh: audited only when AUDIT_REFRESH asks for it.
            event = "refresh" if self.provider.settings.audit_refresh else None
        if event:
            self.provider.audit.add(
                self.db,
                event,
                client=self.client_info,
                user_id=subject.user.id,
                details={"client": request.client.client_id, "session": str(session_id)},
            )
        self.db.commit()

    def create_oauth2_request(self, request: StarletteOAuth2Request) -> StarletteOAuth2Request:
        return request

    def handle_response(self, status: int, body: Any, headers: Any) -> Response:
        return to_response(status, body, headers)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None
