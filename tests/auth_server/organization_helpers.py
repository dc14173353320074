"""Helpers of the organization tests: people with accounts, invitations read from the real
SMTP sink, and the calls every test makes."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx

from tests.auth_server.helpers import (
    bearer,
    drain_feed,
    login,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.smtp import SmtpSink, body_text

API = "/api/auth"


@dataclass
class Person:
    """A verified account, signed in: its own organization and its current tokens."""

    email: str
    user_id: str
    own_org: str
    session: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        return bearer(self.session["accessToken"])

    @property
    def claims(self) -> dict[str, Any]:
        return unverified_claims(self.session["accessToken"])


def person(http: httpx.Client, smtp: SmtpSink, **signup: Any) -> Person:
    email = verified_user(http, smtp, **signup)
    session = login(http, email)
    claims = unverified_claims(session["accessToken"])
    return Person(email, claims["sub"], claims["org"], session)


def refresh(http: httpx.Client, who: Person) -> dict[str, Any]:
    """Refreshes `who`'s session in place; returns the new access token's claims."""
    response = http.post(f"{API}/refresh", json={"refreshToken": who.session["refreshToken"]})
    assert response.status_code == 200, response.text
    who.session = {**who.session, **response.json()["data"]}
    return who.claims


def invite(
    http: httpx.Client, inviter: Person, org: str, email: str, role: str = "member"
) -> httpx.Response:
    return http.post(
        f"{API}/organizations/{org}/invitations",
        json={"email": email, "role": role},
        headers=inviter.headers,
    )


def invitation_token(smtp: SmtpSink, email: str, count: int = 1) -> str:
    """The token of the `count`-th invitation mailed to `email`, from its link."""
    text = body_text(smtp.wait_for(email, count))
    assert "invited to join" in text
    match = re.search(r"accept-invitation#token=([A-Za-z0-9_\-]+)", text)
    assert match, text
    return match.group(1)


def invited(
    http: httpx.Client, smtp: SmtpSink, inviter: Person, org: str, email: str, role: str = "member"
) -> str:
    """Invites `email` and returns the token read from the mail it receives."""
    before = len(smtp.messages_to(email))
    response = invite(http, inviter, org, email, role)
    assert response.status_code == 201, response.text
    return invitation_token(smtp, email, before + 1)


def accept(http: httpx.Client, who: Person, token: str) -> httpx.Response:
    return http.post(f"{API}/invitations/accept", json={"token": token}, headers=who.headers)


def join(
    http: httpx.Client, smtp: SmtpSink, inviter: Person, org: str, who: Person, role: str = "member"
) -> None:
    """`who` joins `org` through an invitation of `inviter`."""
    response = accept(http, who, invited(http, smtp, inviter, org, who.email, role))
    assert response.status_code == 200, response.text


def switch(http: httpx.Client, who: Person, org: str) -> httpx.Response:
    response = http.post(
        f"{API}/switch-organization", json={"organizationId": org}, headers=who.headers
    )
    if response.status_code == 200:
        who.session = {**who.session, "accessToken": response.json()["data"]["accessToken"]}
    return response


def members(http: httpx.Client, who: Person, org: str) -> dict[str, str]:
    """user id -> role of every member, as `who` sees them."""
    response = http.get(f"{API}/organizations/{org}/members", headers=who.headers)
    assert response.status_code == 200, response.text
    return {m["userId"]: m["role"] for m in response.json()["data"]["members"]}


def set_role(
    http: httpx.Client, actor: Person, org: str, user_id: str, role: str
) -> httpx.Response:
    return http.patch(
        f"{API}/organizations/{org}/members/{user_id}", json={"role": role}, headers=actor.headers
    )


def remove(http: httpx.Client, actor: Person, org: str, user_id: str) -> httpx.Response:
    return http.delete(f"{API}/organizations/{org}/members/{user_id}", headers=actor.headers)


def put_license(
    http: httpx.Client, server: AuthServerProcess, org: str, product: str, **body: Any
) -> httpx.Response:
    """The SaaS Admin's call: an organization's license of a product."""
    return http.put(
        f"{server.base_url}/api/admin/organizations/{org}/licenses/{product}",
        json=body,
        headers=server.service_headers(),
    )


def events_after(
    http: httpx.Client, server: AuthServerProcess, cursor: str, org: str
) -> list[dict[str, Any]]:
    """The feed's events after `cursor` about organization `org`."""
    return [e for e in drain_feed(http, server, cursor)[0] if e["org"] == org]
