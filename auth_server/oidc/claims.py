"""What the ID token and the userinfo endpoint say about a user, by scope."""

from __future__ import annotations

from dataclasses import dataclass

from authlib.oauth2.rfc6749 import scope_to_list
from authlib.oidc.core import UserInfo

from auth_server.identity import MembershipFacts, UserFacts

# Discovery's claims_supported: what this provider can say (ID token and userinfo).
CLAIMS_SUPPORTED = [
    *("iss", "aud", "sub", "exp", "iat", "auth_time", "nonce", "sid", "amr", "acr"),
    "at_hash",
    *("email", "email_verified", "name", "given_name", "family_name", "org", "role"),
]


@dataclass(frozen=True)
class Subject:
    """A user as one session speaks for them: `membership` is that session's organization
    (its tokens' `org`), with the role the database has now; None when there is none."""

    user: UserFacts
    membership: MembershipFacts | None


def user_info(subject: Subject, scope: str) -> UserInfo:
    """`sub` always; e-mail claims with `email`; names, organization and role with
    `profile` (the organization and role are what resource servers authorize by)."""
    user, membership = subject.user, subject.membership
    scopes = set(scope_to_list(scope) or [])
    claims: dict[str, object] = {"sub": str(user.id)}
    if "email" in scopes:
        claims.update(email=user.email, email_verified=user.email_verified)
    if "profile" in scopes:
        claims.update(
            name=user.full_name,
            given_name=user.first_name,
            family_name=user.last_name,
            org=str(membership.organization_id) if membership else None,
            role=membership.role if membership else None,
        )
    return UserInfo(claims)
