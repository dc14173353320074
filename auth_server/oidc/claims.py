"""What the ID token and the userinfo endpoint say about a user, by scope."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

from auth_server.memberships import most_recent
from auth_server.models import User

# Discovery's claims_supported: what this provider can say (ID token and userinfo).
CLAIMS_SUPPORTED = [
    *("iss", "aud", "sub", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr"),
    "at_hash",
    *("email", "email_verified", "name", "given_name", "family_name", "org", "role"),
]


def user_info(user: User, scope: str) -> UserInfo:
    """`sub` always; e-mail claims with `email`; names, organization and role with
    `profile` (the organization and role are what resource servers authorize by)."""
    scopes = set(scope_to_list(scope) or [])
    claims: dict[str, object] = {"sub": str(user.id)}
    if "email" in scopes:
        claims.update(email=user.email, email_verified=user.email_verified)
    if "profile" in scopes:
        membership = most_recent(user)
        claims.update(
            name=user.full_name,
            given_name=user.first_name,
            family_name=user.last_name,
            org=str(membership.organization_id) if membership else None,
            role=membership.role if membership else None,
        )
    return UserInfo(claims)
