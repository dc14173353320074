"""Relying parties are registered by the CLI and the admin API; discovery describes the
provider so that a generic OpenID Connect client can use it."""

from __future__ import annotations

import json

import httpx

from tests.support.auth_process import AuthServerProcess


def _register(server: AuthServerProcess, **body: object) -> httpx.Response:
    payload = {"name": "TeamSpace", "redirectUris": ["https://teamspace.example/cb"], **body}
    return httpx.post(
        f"{server.base_url}/api/admin/clients", json=payload, headers=server.service_headers()
    )


def test_cli_registers_lists_rotates_and_deletes(auth_server: AuthServerProcess) -> None:
    created = json.loads(
        auth_server.run_command(
            "clients", "create", "--name", "Insurance", "--json",
            "--redirect-uri", "https://insurance.example/cb",
            "--post-logout-redirect-uri", "https://insurance.example/",
        )
    )  # fmt: skip
    assert created["clientSecret"] and created["public"] is False
    listed = auth_server.run_command("clients", "list", "--json")
    entries = [json.loads(line) for line in listed.splitlines()]
    mine = next(e for e in entries if e["clientId"] == created["clientId"])
    # The secret is shown once and never again.
    assert "clientSecret" not in mine and created["clientSecret"] not in listed
    rotated = json.loads(
        auth_server.run_command("clients", "rotate-secret", created["clientId"], "--json")
    )
    assert rotated["clientSecret"] not in (None, created["clientSecret"])
    deleted = auth_server.run_command("clients", "delete", created["clientId"])
    assert "Deleted client" in deleted
    assert created["clientId"] not in auth_server.run_command("clients", "list")


def test_admin_api_shows_the_secret_once(auth_server: AuthServerProcess) -> None:
    response = _register(auth_server, postLogoutRedirectUris=["https://teamspace.example/"])
    assert response.status_code == 201, response.text
    assert response.headers["cache-control"] == "no-store"
    data = response.json()["data"]
    assert len(data["clientSecret"]) >= 43 and data["firstParty"] is False
    listing = httpx.get(
        f"{auth_server.base_url}/api/admin/clients", headers=auth_server.service_headers()
    )
    assert data["clientSecret"] not in listing.text
    assert any(c["clientId"] == data["clientId"] for c in listing.json()["data"]["clients"])


def test_public_client_has_no_secret(auth_server: AuthServerProcess) -> None:
    response = _register(auth_server, public=True, redirectUris=["http://localhost:5173/cb"])
    assert response.status_code == 201
    assert response.json()["data"]["clientSecret"] is None


def test_delete_then_not_found(auth_server: AuthServerProcess) -> None:
    client_id = _register(auth_server).json()["data"]["clientId"]
    url = f"{auth_server.base_url}/api/admin/clients/{client_id}"
    first = httpx.delete(url, headers=auth_server.service_headers())
    assert first.status_code == 200 and first.json()["data"]["deleted"] is True
    again = httpx.delete(url, headers=auth_server.service_headers())
    assert again.status_code == 404 and again.json()["code"] == "client_not_found"


def test_bad_registrations_are_refused_in_the_envelope(auth_server: AuthServerProcess) -> None:
    bodies: list[dict[str, object]] = [
        {"redirectUris": ["https://teamspace.example/cb#fragment"]},
        {"redirectUris": ["javascript:alert(1)"]},
        {"redirectUris": []},
        {"allowedScopes": ["openid", "admin"]},
    ]
    for body in bodies:
        response = _register(auth_server, **body)
        assert response.status_code == 400, body
        assert response.json()["code"] == "validation_error"


def test_admin_api_needs_the_service_token(auth_server: AuthServerProcess) -> None:
    response = httpx.post(
        f"{auth_server.base_url}/api/admin/clients",
        json={"name": "x", "redirectUris": ["https://x.example/cb"]},
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_service_token"


def test_discovery_lists_what_a_generic_client_needs(auth_server: AuthServerProcess) -> None:
    document = httpx.get(f"{auth_server.base_url}/.well-known/openid-configuration").json()
    base = auth_server.base_url
    assert document["issuer"] == base
    assert document["authorization_endpoint"] == f"{base}/oauth2/authorize"
    assert document["token_endpoint"] == f"{base}/oauth2/token"
    assert document["userinfo_endpoint"] == f"{base}/oauth2/userinfo"
    assert document["revocation_endpoint"] == f"{base}/oauth2/revoke"
    assert document["end_session_endpoint"] == f"{base}/oauth2/logout"
    assert document["jwks_uri"] == f"{base}/.well-known/jwks.json"
    assert document["response_types_supported"] == ["code"]
    assert document["code_challenge_methods_supported"] == ["S256"]
    assert set(document["grant_types_supported"]) == {"authorization_code", "refresh_token"}
    assert document["subject_types_supported"] == ["public"]
    assert document["id_token_signing_alg_values_supported"] == ["RS256"]
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic",
        "client_secret_post",
        "none",
    }
    assert set(document["scopes_supported"]) == {"openid", "profile", "email", "offline_access"}
    assert {"sub", "sid", "auth_time", "nonce", "amr", "email", "org", "role"} <= set(
        document["claims_supported"]
    )
    # Today's document claimed a password grant and the JSON login as token endpoint.
    assert "password" not in document["grant_types_supported"]
