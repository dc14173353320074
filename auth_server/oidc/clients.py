"""The registry of relying parties: register, list, rotate a secret, delete.

A confidential client's secret is 256 random bits, shown once and stored as its SHA-256
(like refresh tokens: there is nothing to brute-force, so a slow hash buys nothing), and
compared in constant time. A public client (a single-page or native app) has no secret
and must use PKCE. Each change is one transaction with its audit row.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from hmac import compare_digest
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from auth_server.audit import AuditLog
from auth_server.clock import Clock
from auth_server.errors import ClientNotFound, PublicClientHasNoSecret, ValidationFailed
from auth_server.oidc.models import OidcClient, OidcGrant
from auth_server.revocations import Revocations
from auth_server.sessions import ClientInfo
from auth_server.tokens import hash_opaque_token, new_opaque_token

SCOPES = ("openid", "profile", "email", "offline_access")
MAX_URIS = 20


@dataclass(frozen=True)
class ClientRegistration:
    name: str
    redirect_uris: Sequence[str]
    post_logout_redirect_uris: Sequence[str] = ()
    public: bool = False
    first_party: bool = False
    allowed_scopes: Sequence[str] = SCOPES


@dataclass(frozen=True)
class RegisteredClient:
    client: OidcClient
    # Only right after registration or rotation; never stored.
    secret: str | None


def secret_matches(client: OidcClient, presented: str) -> bool:
    """Constant time: the comparison must not tell how much of the hash matched."""
    return client.secret_hash is not None and compare_digest(
        client.secret_hash, hash_opaque_token(presented)
    )


def _check_uri(uri: str, *, allow_http: bool) -> str | None:
    """Why `uri` cannot be registered, or None. Compared exactly at use, so no wildcards."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "is not a URL"
    if parts.fragment or "#" in uri:
        # RFC 6749 3.1.2: a redirect URI must not have a fragment.
        return "must not have a fragment"
    if not parts.hostname or parts.scheme not in ("https", "http"):
        return "must be an absolute https URL"
    if parts.scheme == "http" and not (allow_http or _is_loopback(parts.hostname)):
        # Codes and tokens in clear text only to this machine (RFC 8252 7.3), or in dev.
        return "must use https (http only for localhost)"
    return None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def validate_registration(registration: ClientRegistration, *, allow_http: bool) -> None:
    errors: dict[str, list[str]] = {}
    if not registration.name.strip() or len(registration.name) > 200:
        errors["name"] = ["Must be 1 to 200 characters"]
    fields = {
        "redirectUris": registration.redirect_uris,
        "postLogoutRedirectUris": registration.post_logout_redirect_uris,
    }
    for field, uris in fields.items():
        if len(uris) > MAX_URIS:
            errors[field] = [f"At most {MAX_URIS} URIs"]
            continue
        for uri in uris:
            problem = _check_uri(uri, allow_http=allow_http) if len(uri) <= 2000 else "too long"
            if problem:
                errors.setdefault(field, []).append(f"{uri[:100]}: {problem}")
    if not registration.redirect_uris:
        errors.setdefault("redirectUris", []).append("At least one redirect URI")
    unknown = set(registration.allowed_scopes) - set(SCOPES)
    if unknown or "openid" not in registration.allowed_scopes:
        errors["allowedScopes"] = [f"A subset of {' '.join(SCOPES)} including openid"]
    if errors:
        raise ValidationFailed(errors=errors)


def client_json(client: OidcClient) -> dict[str, object]:
    return {
        "clientId": client.client_id,
        "name": client.name,
        "redirectUris": client.redirect_uris,
        "postLogoutRedirectUris": client.post_logout_redirect_uris,
        "public": client.public,
        "firstParty": client.first_party,
        "allowedScopes": client.allowed_scopes.split(),
        "createdAt": client.created_at.isoformat(),
    }


class Clients:
    def __init__(
        self, clock: Clock, audit: AuditLog, revocations: Revocations, *, allow_http: bool
    ) -> None:
        self.clock = clock
        self.audit = audit
        self.revocations = revocations
        # Development and tests: products on http://<host> (never in production).
        self.allow_http = allow_http

    def get(self, db: Session, client_id: str) -> OidcClient | None:
        return db.get(OidcClient, client_id) if client_id and len(client_id) <= 64 else None

    def list(self, db: Session) -> list[OidcClient]:
        return list(db.scalars(select(OidcClient).order_by(OidcClient.created_at)))

    def create(
        self, db: Session, registration: ClientRegistration, actor: ClientInfo | None = None
    ) -> RegisteredClient:
        validate_registration(registration, allow_http=self.allow_http)
        secret = None if registration.public else new_opaque_token()
        client = OidcClient(
            client_id=new_opaque_token(16),
            name=registration.name.strip(),
            secret_hash=hash_opaque_token(secret) if secret else None,
            redirect_uris=list(dict.fromkeys(registration.redirect_uris)),
            post_logout_redirect_uris=list(dict.fromkeys(registration.post_logout_redirect_uris)),
            public=registration.public,
            first_party=registration.first_party,
            allowed_scopes=" ".join(s for s in SCOPES if s in registration.allowed_scopes),
            created_at=self.clock.now(),
        )
        db.add(client)
        self._audit(db, "client_created", client, actor)
        db.commit()
        return RegisteredClient(client, secret)

    def rotate_secret(
        self, db: Session, client_id: str, actor: ClientInfo | None = None
    ) -> RegisteredClient:
        """A new secret; the old one stops working at once (deploy the new one first)."""
        client = self._client(db, client_id)
        if client.public:
            raise PublicClientHasNoSecret()
        secret = new_opaque_token()
        client.secret_hash = hash_opaque_token(secret)
        client.secret_rotated_at = self.clock.now()
        self._audit(db, "client_secret_rotated", client, actor)
        db.commit()
        return RegisteredClient(client, secret)

    def delete(self, db: Session, client_id: str, actor: ClientInfo | None = None) -> int:
        """Deletes the client with its codes and consents, and revokes its sessions (the
        feed tells resource servers); returns how many sessions were revoked."""
        client = self._client(db, client_id)
        sessions = db.scalars(select(OidcGrant.session_id).where(OidcGrant.client_id == client_id))
        revoked = 0
        for session_id in list(sessions):
            if self.revocations.revoke_session(db, session_id, reason="client_deleted"):
                revoked += 1
        self._audit(db, "client_deleted", client, actor, sessions=revoked)
        db.delete(client)
        db.commit()
        return revoked

    def _client(self, db: Session, client_id: str) -> OidcClient:
        client = self.get(db, client_id)
        if client is None:
            raise ClientNotFound()
        return client

    def _audit(
        self,
        db: Session,
        event: str,
        client: OidcClient,
        actor: ClientInfo | None,
        **details: object,
    ) -> None:
        self.audit.add(
            db,
            event,
            client=actor,
            details={
                "actor": "service" if actor else "cli",
                "client": client.client_id,
                "name": client.name,
                **details,
            },
        )
