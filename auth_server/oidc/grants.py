"""The grants, on Authlib's: authorization code (+ PKCE S256, + OpenID Connect), refresh.

Authlib runs the protocol (parameter checks, client authentication, PKCE verification, the
ID token's shape); these subclasses only store and find codes, sessions and users.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidGrantError, InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge
from authlib.oidc.core import OpenIDCode, UserInfo
from joserfc.jwk import RSAKey

from auth_server.amr import acr_for
from auth_server.errors import InvalidRefreshToken
from auth_server.identity import UserFacts
from auth_server.keys import ALGORITHM
from auth_server.memberships import membership_in
from auth_server.models import AuthSession, User
from auth_server.oidc.claims import Subject, user_info
from auth_server.oidc.models import AuthorizationCode, OidcGrant
from auth_server.sessions import IssuedTokens
from auth_server.tokens import RefreshTokenParts

if TYPE_CHECKING:
    from auth_server.oidc.server import ClientModel, OidcServer

# Confidential clients authenticate with their secret; public ones with nothing (and PKCE).
TOKEN_AUTH_METHODS = ["client_secret_basic", "client_secret_post", "none"]
MAX_NONCE = 255


@dataclass(frozen=True)
class CodeSubject:
    """The user of an authorization code being exchanged (Authlib's `request.user`)."""

    user: User
    code: AuthorizationCode


@dataclass(frozen=True)
class RefreshSubject:
    """The user of a refresh token, and the tokens its rotation already issued."""

    user: UserFacts
    issued: IssuedTokens


@dataclass(frozen=True)
class RefreshCredential:
    raw: str
    grant: OidcGrant

    def check_client(self, client: ClientModel) -> bool:
        return self.grant.client_id == client.client_id

    def get_scope(self) -> str:
        return self.grant.scope


class CodeMixin:
    """Authlib's view of a stored code (AuthorizationCodeMixin's methods)."""

    def __init__(self, row: AuthorizationCode) -> None:
        self.row = row

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str:
        return acr_for(self.row.amr)

    def get_amr(self) -> list[str] | None:
        return list(self.row.amr) or None

    @property
    def code_challenge(self) -> str | None:
        return self.row.code_challenge

    @property
    def code_challenge_method(self) -> str | None:
        return self.row.code_challenge_method


class AuthorizationCodeGrant(grants.AuthorizationCodeGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    server: OidcServer

    def save_authorization_code(self, code: str, request: Any) -> None:
        self.server.provider.codes.save(self.server.db, code, request)

    def query_authorization_code(self, code: str, client: ClientModel) -> CodeMixin | None:
        row = self.server.provider.codes.find(self.server.db, code, client.client_id)
        return CodeMixin(row) if row is not None else None

    def delete_authorization_code(self, authorization_code: CodeMixin) -> None:
        # Kept, marked used, until it expires: a second exchange is then recognized as a
        # replay (and revokes what the first one issued) instead of an unknown code.
        return None

    def authenticate_user(self, authorization_code: CodeMixin) -> CodeSubject | None:
        user = self.server.db.get(User, authorization_code.row.user_id)
        return CodeSubject(user, authorization_code.row) if user is not None else None


class PkceS256(CodeChallenge):  # type: ignore[misc]
    """PKCE with S256 only (`plain` shows the verifier to whoever sees the request), and
    required of public clients: a public client's code is otherwise usable by anyone who
    intercepts it."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    DEFAULT_CODE_CHALLENGE_METHOD = "S256"

    def validate_code_challenge(self, grant: Any, redirect_uri: str) -> None:
        payload = grant.request.payload.data
        challenge, method = payload.get("code_challenge"), payload.get("code_challenge_method")
        if grant.request.client.public and not challenge:
            raise InvalidRequestError("A public client must send a PKCE 'code_challenge'")
        if challenge and method != "S256":
            # Absent means `plain` (RFC 7636 4.3), which is not supported.
            raise InvalidRequestError("'code_challenge_method' must be S256")
        super().validate_code_challenge(grant, redirect_uri)


class IdTokens(OpenIDCode):  # type: ignore[misc]
    """ID tokens signed RS256 with the access tokens' key (the same JWKS verifies both)."""

    def __init__(self, server: OidcServer) -> None:
        super().__init__(require_nonce=False)
        self.server = server

    def validate_openid_authorization_request(self, grant: Any, redirect_uri: str) -> None:
        # Stored with the code (a column of MAX_NONCE): a longer one is refused, not cut.
        if len(grant.request.payload.data.get("nonce") or "") > MAX_NONCE:
            raise InvalidRequestError(f"'nonce' is longer than {MAX_NONCE} characters")
        super().validate_openid_authorization_request(grant, redirect_uri)

    def exists_nonce(self, nonce: str, request: Any) -> bool:
        return self.server.provider.codes.nonce_used(
            self.server.db, request.payload.client_id, nonce
        )

    def resolve_client_private_key(self, client: ClientModel) -> RSAKey:
        return RSAKey.import_key(self.server.provider.keys.signer)

    def get_client_algorithm(self, client: ClientModel) -> str:
        return ALGORITHM

    def get_encode_header(self, client: ClientModel) -> dict[str, str]:
        # The kid names the key in the JWKS, as in access tokens.
        return {"alg": ALGORITHM, "kid": self.server.provider.keys.signer_kid}

    def get_client_claims(self, client: ClientModel) -> dict[str, Any]:
        now = int(self.server.provider.clock.now().timestamp())
        return {
            "iss": self.server.provider.settings.jwt_issuer,
            "aud": client.client_id,
            "iat": now,
            "exp": now + self.server.provider.settings.access_token_ttl,
        }

    def get_authorization_code_claims(self, authorization_code: CodeMixin) -> dict[str, Any]:
        claims: dict[str, Any] = super().get_authorization_code_claims(authorization_code)
        # The session the tokens belong to, as in the access token: what RP-initiated
        # logout and the revocation feed name.
        claims["sid"] = str(authorization_code.row.session_id)
        return claims

    def generate_user_info(self, user: CodeSubject, scope: str) -> UserInfo:
        # The organization of the session the exchange opened (its access token's `org`).
        session = self.server.db.get(AuthSession, user.code.session_id)
        organization_id = session.organization_id if session is not None else None
        return user_info(Subject(user.user, membership_in(user.user, organization_id)), scope)


class RefreshTokenGrant(grants.RefreshTokenGrant):  # type: ignore[misc]
    """Today's rotation and reuse detection (sessions.py), for OpenID Connect sessions."""

    TOKEN_ENDPOINT_AUTH_METHODS = TOKEN_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True
    server: OidcServer

    def authenticate_refresh_token(self, refresh_token: str) -> RefreshCredential | None:
        try:
            session_id = RefreshTokenParts.parse(refresh_token).session_id
        except InvalidRefreshToken:
            return None
        # Only a session the token endpoint made: an API login's token is not a client's.
        grant = self.server.db.get(OidcGrant, session_id)
        return RefreshCredential(refresh_token, grant) if grant is not None else None

    def authenticate_user(self, refresh_token: RefreshCredential) -> RefreshSubject:
        try:
            # Rotates (or, on reuse, revokes the session and commits that): sessions.py.
            issued = self.server.provider.sessions.refresh(self.server.db, refresh_token.raw)
        except InvalidRefreshToken as exc:
            raise InvalidGrantError() from exc
        return RefreshSubject(issued.user, issued)

    def revoke_old_credential(self, refresh_token: RefreshCredential) -> None:
        # Already rotated by sessions.refresh in authenticate_user.
        return None
