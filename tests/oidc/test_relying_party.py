"""An independent relying party (Authlib's OAuth client and its ID token validation, not
our code) signs a user in against a real server process: discovery, code + PKCE, the ID
token checked against the JWKS, userinfo, refresh, revocation and RP-initiated logout."""

from __future__ import annotations

import httpx
from authlib.jose import JsonWebKey, jwt
from authlib.oidc.core import CodeIDToken

from tests.auth_server.helpers import PASSWORD, drain_feed, feed_cursor, unverified_claims
from tests.oidc.support import (
    POST_LOGOUT_URI,
    Browser,
    callback_params,
    discovery,
    new_nonce,
    register,
    relying_party,
)
from tests.support.auth_process import AuthServerProcess


def test_confidential_client_signs_in_refreshes_revokes_and_logs_out(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    meta = discovery(server)
    client = register(server)
    rp = relying_party(client)
    verifier, nonce = new_nonce() * 3, new_nonce()
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    # Not signed in: the sign-in page, which comes back to the authorization request.
    first = browser.go(url)
    assert first.url.path == "/signin"
    callback = browser.sign_in(email, PASSWORD, next_url=_next_of(first))
    params = callback_params(callback)
    assert params["state"] == state and "code" in params

    token = rp.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback.headers["location"],
        code_verifier=verifier,
    )
    assert token["token_type"].lower() == "bearer" and token["refresh_token"]
    # The ID token, validated by Authlib against the provider's JWKS.
    keys = JsonWebKey.import_key_set(httpx.get(meta["jwks_uri"]).json())
    claims = jwt.decode(
        token["id_token"],
        keys,
        claims_cls=CodeIDToken,
        claims_options={"iss": {"essential": True, "value": meta["issuer"]}},
        claims_params={"nonce": nonce, "client_id": client.client_id},
    )
    claims.validate()
    assert claims["aud"] == client.client_id and claims["amr"] == ["pwd"]
    assert claims["acr"] == "urn:rozitech:acr:pwd"  # no second factor in this sign-in
    assert claims["sid"] and claims["auth_time"] <= claims["iat"]
    # The access token carries today's claims: resource servers verify it as before.
    access = unverified_claims(token["access_token"])
    assert access["sid"] == claims["sid"] and access["sub"] == claims["sub"]
    assert access["aud"] == "rozitech" and access["email"] == email
    me = httpx.get(
        f"{server.base_url}/api/auth/me",
        headers={"Authorization": f"Bearer {token['access_token']}"},
    )
    assert me.status_code == 200

    info = rp.get(meta["userinfo_endpoint"]).json()
    assert info["sub"] == claims["sub"] and info["email"] == email
    assert info["email_verified"] is True and info["given_name"] == "Ann"
    assert info["role"] == "owner" and info["org"]

    # Refresh keeps today's rotation: the old refresh token is spent.
    old_refresh = token["refresh_token"]
    refreshed = rp.refresh_token(meta["token_endpoint"])
    assert refreshed["refresh_token"] != old_refresh
    assert unverified_claims(refreshed["access_token"])["sid"] == claims["sid"]

    # RP-initiated logout: back to the registered URI with the state; the session's tokens
    # are dead, and the feed tells resource servers.
    cursor = feed_cursor(httpx.Client(base_url=server.base_url), server)
    logout = browser.http.get(
        meta["end_session_endpoint"],
        params={
            "id_token_hint": token["id_token"],
            "post_logout_redirect_uri": POST_LOGOUT_URI,
            "state": "bye",
        },
    )
    assert logout.status_code == 302
    assert logout.headers["location"] == f"{POST_LOGOUT_URI}?state=bye"
    assert rp.get(meta["userinfo_endpoint"]).status_code == 401
    events, _ = drain_feed(httpx.Client(base_url=server.base_url), server, cursor)
    assert claims["sid"] in {e["sid"] for e in events}
    # And the browser is signed out: a new authorization needs the password again.
    again, _ = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=new_nonce()
    )
    assert browser.go(again).url.path == "/signin"


def test_public_client_with_pkce_and_revocation(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    meta = discovery(server)
    client = register(server, public=True)
    rp = relying_party(client)
    browser.sign_in(email, PASSWORD)
    verifier = new_nonce() * 3
    url, _ = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, nonce=new_nonce()
    )
    # Already signed in and first-party: straight back with a code.
    callback = browser.go(url)
    token = rp.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback.headers["location"],
        code_verifier=verifier,
    )
    assert token["id_token"]
    revoked = rp.revoke_token(
        meta["revocation_endpoint"], token=token["refresh_token"], token_type_hint="refresh_token"
    )
    assert revoked.status_code == 200
    # RFC 7009: the session's access token goes with it.
    assert rp.get(meta["userinfo_endpoint"]).status_code == 401
    refresh = httpx.post(
        meta["token_endpoint"],
        data={
            "grant_type": "refresh_token",
            "refresh_token": token["refresh_token"],
            "client_id": client.client_id,
        },
    )
    assert refresh.status_code == 400 and refresh.json()["error"] == "invalid_grant"


def test_client_secret_post_and_silent_sign_in(
    server: AuthServerProcess, browser: Browser, email: str
) -> None:
    meta = discovery(server)
    browser.sign_in(email, PASSWORD)
    client = register(server)
    rp = relying_party(client, token_endpoint_auth_method="client_secret_post")
    verifier = new_nonce() * 3
    url, state = rp.create_authorization_url(
        meta["authorization_endpoint"], code_verifier=verifier, prompt="none", nonce=new_nonce()
    )
    callback = browser.go(url)
    assert callback_params(callback)["state"] == state
    token = rp.fetch_token(
        meta["token_endpoint"],
        authorization_response=callback.headers["location"],
        code_verifier=verifier,
    )
    assert token["access_token"]


def _next_of(signin_page: httpx.Response) -> str:
    """The `next` the authorize endpoint gave the sign-in page."""
    return str(signin_page.url.params["next"])
