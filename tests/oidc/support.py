"""A browser (httpx with cookies) that signs in on the hosted page, and relying parties
that are Authlib's own OAuth client, not our code."""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.integrations.httpx_client import OAuth2Client

from tests.support.auth_process import AuthServerProcess

REDIRECT_URI = "https://rp.example/callback"
POST_LOGOUT_URI = "https://rp.example/signed-out"
SCOPE = "openid profile email offline_access"


@dataclass(frozen=True)
class Registered:
    client_id: str
    client_secret: str | None


def register(
    server: AuthServerProcess,
    *,
    public: bool = False,
    first_party: bool = True,
    name: str = "Relying Party",
) -> Registered:
    response = httpx.post(
        f"{server.base_url}/api/admin/clients",
        headers=server.service_headers(),
        json={
            "name": name,
            "redirectUris": [REDIRECT_URI],
            "postLogoutRedirectUris": [POST_LOGOUT_URI],
            "public": public,
            "firstParty": first_party,
        },
    )
    assert response.status_code == 201, response.text
    data = response.json()["data"]
    return Registered(data["clientId"], data["clientSecret"])


def discovery(server: AuthServerProcess) -> dict[str, Any]:
    document: dict[str, Any] = httpx.get(
        f"{server.base_url}/.well-known/openid-configuration"
    ).json()
    return document


def relying_party(client: Registered, **kwargs: Any) -> OAuth2Client:
    """Authlib's OAuth 2 client (the one a Python product would use), with PKCE S256."""
    return OAuth2Client(
        client_id=client.client_id,
        client_secret=client.client_secret,
        scope=SCOPE,
        redirect_uri=REDIRECT_URI,
        code_challenge_method="S256",
        token_endpoint_auth_method="none"
        if client.client_secret is None
        else kwargs.pop("token_endpoint_auth_method", "client_secret_basic"),
        timeout=30,
        **kwargs,
    )


def authorization(
    server: AuthServerProcess, client: Registered, **params: str
) -> tuple[OAuth2Client, str, str]:
    """Authlib's client, the authorization URL (PKCE, nonce) and its verifier."""
    rp = relying_party(client)
    verifier = new_nonce() * 3
    url, _state = rp.create_authorization_url(
        discovery(server)["authorization_endpoint"],
        code_verifier=verifier,
        nonce=new_nonce(),
        **params,
    )
    return rp, url, verifier


def csrf_of(page: httpx.Response) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert match, page.text
    return match.group(1)


class Browser:
    """Cookies kept, redirects followed by hand: a redirect to the relying party is where
    the browser stops (that site does not exist here)."""

    def __init__(self, server: AuthServerProcess) -> None:
        self.base_url = server.base_url
        self.http = httpx.Client(base_url=server.base_url, timeout=30)

    def close(self) -> None:
        self.http.close()

    def go(self, url: str, **kwargs: Any) -> httpx.Response:
        """GET `url` and follow redirects on this server; the last answer."""
        response = self.http.get(url, **kwargs)
        while response.is_redirect:
            location = response.headers["location"]
            if location.startswith("http") and not location.startswith(self.base_url):
                return response
            response = self.http.get(location)
        return response

    def sign_in(self, email: str, password: str, next_url: str = "/account") -> httpx.Response:
        """The hosted sign-in page's form, posted with its CSRF token; redirects followed."""
        page = self.http.get("/signin", params={"next": next_url})
        return self.submit("/signin", page, email=email, password=password, next=next_url)

    def submit(self, action: str, page: httpx.Response, **fields: str) -> httpx.Response:
        response = self.http.post(action, data={"csrf_token": csrf_of(page), **fields})
        if response.is_redirect:
            return self.go(response.headers["location"])
        return response


def callback_params(response: httpx.Response) -> dict[str, str]:
    """The query of a redirect to the relying party's callback."""
    assert response.status_code in (302, 303), (response.status_code, response.text[:500])
    location = response.headers["location"]
    assert location.startswith(REDIRECT_URI), location
    return {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
