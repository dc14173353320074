"""Userinfo (and the ID token) name the organization of the token's own session: a user in
two organizations, signed in to a product twice, sees each session's organization."""

from __future__ import annotations

from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client

from tests.auth_server.helpers import PASSWORD, bearer, unverified_claims
from tests.auth_server.organization_helpers import Person, join, person, switch
from tests.oidc.support import Browser, discovery, new_nonce, register, relying_party
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink


def _tokens(rp: OAuth2Client, browser: Browser, meta: dict[str, Any]) -> dict[str, Any]:
    """One code grant of the signed-in browser: a session of its own."""
    verifier = new_nonce() * 3
    url, _ = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=new_nonce()
    )
    token: dict[str, Any] = rp.fetch_token(
        meta["token_endpoint"],
        authorization_response=browser.go(url).headers["location"],
        code_verifier=verifier,
    )
    return token


def _userinfo(meta: dict[str, Any], access_token: str) -> dict[str, Any]:
    response = httpx.get(meta["userinfo_endpoint"], headers=bearer(access_token))
    assert response.status_code == 200, response.text
    info: dict[str, Any] = response.json()
    return info


def test_each_session_sees_its_own_organization(
    server: AuthServerProcess, browser: Browser, smtp_sink: SmtpSink
) -> None:
    meta = discovery(server)
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        owner = person(http, smtp_sink)
        user = person(http, smtp_sink)
        # The user owns their own organization and is a member of the owner's.
        join(http, smtp_sink, owner, owner.own_org, user)
        browser.sign_in(user.email, PASSWORD)
        rp = relying_party(register(server))
        first, second = _tokens(rp, browser, meta), _tokens(rp, browser, meta)
        # Both sessions start in the user's own organization, and say so everywhere.
        for token in (first, second):
            assert unverified_claims(token["id_token"])["org"] == user.own_org
            assert _userinfo(meta, token["access_token"])["org"] == user.own_org

        # The first session switches to the owner's organization (now the user's most
        # recently active one); the second stays where it was.
        in_first = Person(user.email, user.user_id, user.own_org, {})
        in_first.session["accessToken"] = first["access_token"]
        assert switch(http, in_first, owner.own_org).status_code == 200

    switched = _userinfo(meta, in_first.session["accessToken"])
    assert (switched["org"], switched["role"]) == (owner.own_org, "member")
    stayed = _userinfo(meta, second["access_token"])
    assert (stayed["org"], stayed["role"]) == (user.own_org, "owner")
    # A new sign-in starts in the most recent organization; its ID token and access token agree.
    third = _tokens(rp, browser, meta)
    assert unverified_claims(third["id_token"])["org"] == owner.own_org
    assert unverified_claims(third["access_token"])["org"] == owner.own_org
