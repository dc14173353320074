"""Authlib's revocation (RFC 7009), userinfo and RP-initiated logout endpoints, on our
sessions: every token the provider issues belongs to a session row, so revoking a token,
or logging out, revokes that session, with the event the revocation feed carries."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from hmac import compare_digest
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import ResourceProtector
from authlib.oauth2.rfc6750 import BearerTokenValidator
from authlib.oauth2.rfc7009 import RevocationEndpoint
from authlib.oidc.core import UserInfo as UserInfoClaims
from authlib.oidc.core import UserInfoEndpoint
from authlib.oidc.rpinitiated import EndSessionEndpoint, EndSessionRequest

from auth_server.errors import InvalidRefreshToken, InvalidToken
from auth_server.keys import ALGORITHM
from auth_server.models import AuthSession
from auth_server.oidc.claims import Subject, user_info
from auth_server.oidc.grants import TOKEN_AUTH_METHODS
from auth_server.oidc.models import OidcGrant
from auth_server.tokens import RefreshTokenParts

if TYPE_CHECKING:
    from auth_server.oidc.server import ClientModel, OidcServer


@dataclass(frozen=True)
class SessionToken:
    """A token of a session the token endpoint made (either kind: they live and die
    together), as Authlib's endpoints see it."""

    session_id: uuid.UUID
    grant: OidcGrant
    user: Subject | None = None
    client: ClientModel | None = None

    @property
    def scope(self) -> str:
        return self.grant.scope

    def check_client(self, client: ClientModel) -> bool:
        return self.grant.client_id == client.client_id

    def get_scope(self) -> str:
        return self.grant.scope

    def get_client(self) -> ClientModel | None:
        return self.client

    def get_user(self) -> Subject | None:
        return self.user

    def is_expired(self) -> bool:
        return False  # checked when the token was read (AccessTokens.decode)

    def is_revoked(self) -> bool:
        return False  # likewise (Sessions.authenticate_claims)


class Revocation(RevocationEndpoint):  # type: ignore[misc]
    CLIENT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: OidcServer

    def query_token(self, token_string: str, token_type_hint: str | None) -> SessionToken | None:
        session_id = self._refresh_session(token_string) or self._access_session(token_string)
        if session_id is None:
            return None
        grant = self.server.db.get(OidcGrant, session_id)
        return SessionToken(session_id, grant) if grant is not None else None

    def _refresh_session(self, token: str) -> uuid.UUID | None:
        try:
            parts = RefreshTokenParts.parse(token)
        except InvalidRefreshToken:
            return None
        session = self.server.db.get(AuthSession, parts.session_id)
        # The family secret proves the token is this session's: a session id alone (the
        # `sid` of every token) must not be enough to end someone's session.
        if session is None or session.family_hash is None:
            return None
        return session.id if compare_digest(session.family_hash, parts.family_hash) else None

    def _access_session(self, token: str) -> uuid.UUID | None:
        try:
            return self.server.provider.tokens.decode(token).session_id
        except InvalidToken:
            return None

    def revoke_token(self, token: SessionToken, request: Any) -> None:
        db = self.server.db
        user_id = self.server.provider.revocations.revoke_session(
            db, token.session_id, reason="token_revoked"
        )
        if user_id is not None:
            self.server.provider.audit.add(
                db,
                "oidc_token_revoked",
                client=self.server.client_info,
                user_id=user_id,
                details={"client": token.grant.client_id, "session": str(token.session_id)},
            )
        db.commit()


class _AccessTokens(BearerTokenValidator):  # type: ignore[misc]
    def __init__(self, server: OidcServer) -> None:
        super().__init__()
        self.server = server

    def authenticate_token(self, token_string: str) -> SessionToken | None:
        db = self.server.db
        try:
            # Signature, expiry, and the session still live: a revoked token stops here.
            user, claims = self.server.provider.sessions.authenticate_claims(db, token_string)
        except InvalidToken:
            return None
        grant = db.get(OidcGrant, claims.session_id)
        if grant is None:
            return None  # an API login's token: no client, no OpenID Connect scope
        client = self.server.query_client(grant.client_id)
        if client is None:
            return None
        # The organization of this token (its session's when it was issued), not the one the
        # user was last active in: two sessions in two organizations each see their own.
        subject = Subject(user, self.server.provider.sessions.token_membership(user, claims))
        return SessionToken(claims.session_id, grant, subject, client)


class _Protector(ResourceProtector):  # type: ignore[misc]
    """Authlib's userinfo endpoint asks for the token without the request; it is here."""

    def __init__(self, server: OidcServer) -> None:
        super().__init__()
        self.server = server
        self.request: Any = None
        self.register_token_validator(_AccessTokens(server))

    def acquire_token(self, *scopes: str) -> SessionToken:
        token: SessionToken = self.validate_request(list(scopes), self.request)
        return token


class UserInfo(UserInfoEndpoint):  # type: ignore[misc]
    def __init__(self, server: OidcServer) -> None:
        super().__init__(server=server, resource_protector=_Protector(server))

    def create_endpoint_request(self, request: Any) -> Any:
        self.resource_protector.request = request
        return request

    def generate_user_info(self, user: Subject, scope: str) -> UserInfoClaims:
        return user_info(user, scope)

    def get_issuer(self) -> str:
        return str(self.server.provider.settings.jwt_issuer)


class EndSession(EndSessionEndpoint):  # type: ignore[misc]
    server: OidcServer

    def get_server_jwks(self) -> dict[str, Any]:
        return self.server.provider.keys.jwks()

    def get_algorithms(self) -> list[str]:
        # Pinned, as for access tokens.
        return [ALGORITHM]

    def end_session(self, end_session_request: EndSessionRequest) -> None:
        self.server.provider.end_session(
            self.server.db,
            end_session_request,
            self.server.client_info,
            self.server.browser_session_id,
        )
