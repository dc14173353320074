"""Passkeys over the JSON API, against the real server, with a software authenticator
(tests/support/authenticator.py) making real keys and signatures: registration, the
passwordless login and their refusals (malformed answers, unknown passkeys, replayed or
foreign challenges, wrong origin or relying party, a cloned authenticator's counter)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.auth_server.helpers import (
    PASSWORD,
    bearer,
    login,
    set_user_fields,
    unverified_claims,
    verified_user,
)
from tests.support.auth_process import AuthServerProcess
from tests.support.authenticator import SoftAuthenticator
from tests.support.smtp import SmtpSink

REGISTER = "/api/auth/mfa/webauthn/register"
LOGIN = "/api/auth/webauthn/login"
PASSKEYS = "/api/auth/mfa/webauthn"


@pytest.fixture
def authenticator(auth_server: AuthServerProcess) -> SoftAuthenticator:
    return SoftAuthenticator(auth_server.base_url)


def signed_in(client: httpx.Client, smtp_sink: SmtpSink) -> tuple[str, dict[str, str]]:
    email = verified_user(client, smtp_sink)
    return email, bearer(login(client, email)["accessToken"])


def options(client: httpx.Client, path: str, headers: dict[str, str] | None = None) -> Any:
    response = client.post(f"{path}/options", headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def register(
    client: httpx.Client, access: dict[str, str], credential: Any, name: str = "Key"
) -> httpx.Response:
    body = {"credential": credential, "name": name}
    return client.post(f"{REGISTER}/verify", json=body, headers=access)


def enrolled(
    client: httpx.Client, access: dict[str, str], authenticator: SoftAuthenticator
) -> dict[str, Any]:
    response = register(client, access, authenticator.create(options(client, REGISTER, access)))
    assert response.status_code == 201, response.text
    passkey: dict[str, Any] = response.json()["data"]
    return passkey


def passkey_login(client: httpx.Client, credential: Any) -> httpx.Response:
    return client.post(f"{LOGIN}/verify", json={"credential": credential})


def listed(client: httpx.Client, access: dict[str, str]) -> list[dict[str, Any]]:
    passkeys: list[dict[str, Any]] = client.get("/api/auth/mfa", headers=access).json()["data"][
        "passkeys"
    ]
    return passkeys


def amr(access_token: str) -> list[str]:
    claims = unverified_claims(access_token)
    methods: list[str] = claims["amr"]
    return methods


def assert_refused(response: httpx.Response, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["success"] is False and response.json()["code"] == code


def test_registration_options_offer_a_discoverable_passkey(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    email, access = signed_in(client, smtp_sink)
    creation = options(client, REGISTER, access)
    assert creation["rp"] == {"id": "127.0.0.1", "name": "Rozitech"}
    assert creation["user"]["name"] == email
    assert creation["authenticatorSelection"]["residentKey"] == "preferred"
    assert creation["excludeCredentials"] == []
    # Without a token: the usual 401.
    assert_refused(client.post(f"{REGISTER}/options"), 401, "invalid_token")


def test_passwordless_login_gives_the_login_answer(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    email, access = signed_in(client, smtp_sink)
    passkey = enrolled(client, access, authenticator)
    assert passkey["deviceType"] == "single_device" and passkey["transports"] == ["internal"]
    # A registered passkey is excluded from the next registration's authenticators.
    assert [c["id"] for c in options(client, REGISTER, access)["excludeCredentials"]] == [
        next(iter(authenticator.credentials))
    ]

    request = options(client, LOGIN)
    assert request["userVerification"] == "required" and request["allowCredentials"] == []
    answer = passkey_login(client, authenticator.get(request))
    assert answer.status_code == 200, answer.text
    data = answer.json()["data"]
    assert data["user"]["email"] == email and data["tokenType"] == "Bearer"
    assert amr(data["accessToken"]) == ["hwk"]
    # A passkey with user verification is both factors: the context class says so.
    assert unverified_claims(data["accessToken"])["acr"] == "urn:rozitech:acr:mfa"
    assert listed(client, access)[0]["lastUsedAt"] is not None


def test_a_synced_passkey_signs_in_as_swk(
    client: httpx.Client, smtp_sink: SmtpSink, auth_server: AuthServerProcess
) -> None:
    synced = SoftAuthenticator(auth_server.base_url, synced=True)
    _email, access = signed_in(client, smtp_sink)
    passkey = enrolled(client, access, synced)
    assert passkey["deviceType"] == "multi_device" and passkey["backedUp"] is True
    answer = passkey_login(client, synced.get(options(client, LOGIN)))
    assert amr(answer.json()["data"]["accessToken"]) == ["swk"]


def test_malformed_credentials_are_refused_and_store_nothing(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    _email, access = signed_in(client, smtp_sink)
    creation = options(client, REGISTER, access)
    good = authenticator.create(creation)
    assert_refused(register(client, access, "not an object"), 400, "validation_error")
    assert_refused(register(client, access, {"id": "x"}), 400, "invalid_passkey_response")
    broken: dict[str, Any] = {**good, "response": {**good["response"], "clientDataJSON": "!!"}}
    assert_refused(register(client, access, broken), 400, "invalid_passkey_response")
    garbled = {**good, "response": {**good["response"], "attestationObject": "AAAA"}}
    assert_refused(register(client, access, garbled), 400, "invalid_passkey_response")
    assert listed(client, access) == []
    assert_refused(passkey_login(client, {"rawId": 1}), 400, "invalid_passkey_response")


def test_unknown_passkey_is_refused(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    _email, access = signed_in(client, smtp_sink)
    enrolled(client, access, authenticator)
    stranger = SoftAuthenticator(authenticator.origin)
    stranger.create(options(client, REGISTER, access))  # made, never registered
    refused = passkey_login(client, stranger.get(options(client, LOGIN)))
    assert_refused(refused, 401, "unknown_passkey")


def test_challenges_are_single_use_and_bound(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    _email, access = signed_in(client, smtp_sink)
    creation = options(client, REGISTER, access)
    # Another user's registration challenge is not this user's.
    _other, other_access = signed_in(client, smtp_sink)
    foreign = register(client, other_access, authenticator.create(creation))
    assert_refused(foreign, 400, "invalid_passkey_challenge")
    # A registration challenge does not sign anyone in, nor a login one register.
    assert_refused(
        passkey_login(client, authenticator.get({"rpId": "127.0.0.1", **creation})),
        400,
        "invalid_passkey_challenge",
    )
    login_request = options(client, LOGIN)
    crossed = register(client, access, authenticator.create({**creation, **login_request}))
    assert_refused(crossed, 400, "invalid_passkey_challenge")

    enrolled(client, access, authenticator)
    assertion = authenticator.get(options(client, LOGIN))
    assert passkey_login(client, assertion).status_code == 200
    assert_refused(passkey_login(client, assertion), 400, "invalid_passkey_challenge")


def test_wrong_origin_or_relying_party_is_refused(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    _email, access = signed_in(client, smtp_sink)
    phished = authenticator.create(options(client, REGISTER, access), origin="https://evil.example")
    assert_refused(register(client, access, phished), 400, "invalid_passkey_response")
    assert listed(client, access) == []

    enrolled(client, access, authenticator)
    request = options(client, LOGIN)
    assert_refused(
        passkey_login(client, authenticator.get(request, origin="https://evil.example")),
        400,
        "invalid_passkey_response",
    )
    other_rp = authenticator.get(options(client, LOGIN), rp_id="evil.example")
    assert_refused(passkey_login(client, other_rp), 400, "invalid_passkey_response")


def test_a_counter_that_goes_back_is_refused(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    _email, access = signed_in(client, smtp_sink)
    enrolled(client, access, authenticator)
    assert passkey_login(client, authenticator.get(options(client, LOGIN))).status_code == 200
    # A clone of the authenticator, copied before that use, signs with the old counter.
    next(iter(authenticator.credentials.values())).sign_count = 0
    cloned = passkey_login(client, authenticator.get(options(client, LOGIN)))
    assert_refused(cloned, 400, "invalid_passkey_response")


def test_unverified_account_is_refused_like_password_login(
    client: httpx.Client,
    smtp_sink: SmtpSink,
    authenticator: SoftAuthenticator,
    auth_server: AuthServerProcess,
) -> None:
    email, access = signed_in(client, smtp_sink)
    enrolled(client, access, authenticator)
    set_user_fields(auth_server, email, email_verified=False)
    refused = passkey_login(client, authenticator.get(options(client, LOGIN)))
    assert_refused(refused, 403, "email_not_verified")


def test_rename_and_delete_only_ones_own(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    _email, access = signed_in(client, smtp_sink)
    passkey = enrolled(client, access, authenticator)
    _other, other_access = signed_in(client, smtp_sink)
    path = f"{PASSKEYS}/{passkey['id']}"
    assert_refused(
        client.patch(path, json={"name": "Mine"}, headers=other_access), 404, "passkey_not_found"
    )
    assert_refused(client.delete(path, headers=other_access), 404, "passkey_not_found")
    assert_refused(client.patch(path, json={"name": ""}, headers=access), 400, "validation_error")

    renamed = client.patch(path, json={"name": "Yubikey"}, headers=access)
    assert renamed.status_code == 200 and renamed.json()["data"]["name"] == "Yubikey"
    assert client.delete(path, headers=access).status_code == 200
    assert listed(client, access) == []
    # Deleted: it signs no one in any more.
    refused = passkey_login(client, authenticator.get(options(client, LOGIN)))
    assert_refused(refused, 401, "unknown_passkey")


# -- the second factor of a password login --------------------------------------------------


def password_login(client: httpx.Client, email: str) -> dict[str, Any]:
    response = client.post("/api/auth/login", json={"email": email, "password": PASSWORD})
    assert response.status_code == 200, response.text
    data: dict[str, Any] = response.json()["data"]
    return data


def second_factor(client: httpx.Client, mfa_token: str, credential: Any) -> httpx.Response:
    return client.post("/api/auth/mfa/verify", json={"mfaToken": mfa_token, "webauthn": credential})


def second_factor_options(client: httpx.Client, mfa_token: str) -> Any:
    response = client.post(f"{PASSKEYS}/options", json={"mfaToken": mfa_token})
    assert response.status_code == 200, response.text
    return response.json()["data"]


def test_a_passkey_completes_a_password_login(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    email, access = signed_in(client, smtp_sink)
    enrolled(client, access, authenticator)
    challenge = password_login(client, email)
    assert challenge["mfaRequired"] is True and challenge["methods"] == ["webauthn"]
    assert "accessToken" not in challenge
    request = second_factor_options(client, challenge["mfaToken"])
    # Only this user's passkeys are offered.
    assert [c["id"] for c in request["allowCredentials"]] == list(authenticator.credentials)
    assertion = authenticator.get(request)
    done = second_factor(client, challenge["mfaToken"], assertion)
    assert done.status_code == 200, done.text
    assert done.json()["data"]["user"]["email"] == email
    assert amr(done.json()["data"]["accessToken"]) == ["pwd", "hwk"]
    # The mfaToken and the ceremony are spent.
    assert_refused(
        second_factor(client, challenge["mfaToken"], assertion), 401, "invalid_mfa_token"
    )


def test_a_wrong_passkey_counts_as_a_wrong_factor(
    client: httpx.Client, smtp_sink: SmtpSink, authenticator: SoftAuthenticator
) -> None:
    email, access = signed_in(client, smtp_sink)
    enrolled(client, access, authenticator)
    # Another user's passkey, registered and valid, answering this login's challenge.
    _other, other_access = signed_in(client, smtp_sink)
    intruder = SoftAuthenticator(authenticator.origin)
    enrolled(client, other_access, intruder)
    token = password_login(client, email)["mfaToken"]
    foreign = second_factor(client, token, intruder.get(second_factor_options(client, token)))
    assert_refused(foreign, 401, "invalid_mfa_code")
    # A passwordless login's challenge is not this login's.
    borrowed = authenticator.get(options(client, LOGIN))
    assert_refused(second_factor(client, token, borrowed), 401, "invalid_mfa_code")
    assert_refused(second_factor(client, token, {"id": 1}), 401, "invalid_mfa_code")
    # Still the user's own attempt to finish: the right passkey completes it.
    done = second_factor(client, token, authenticator.get(second_factor_options(client, token)))
    assert done.status_code == 200, done.text


def test_an_admin_reset_deletes_the_passkeys(
    client: httpx.Client,
    smtp_sink: SmtpSink,
    authenticator: SoftAuthenticator,
    auth_server: AuthServerProcess,
) -> None:
    email = verified_user(client, smtp_sink)
    token = login(client, email)["accessToken"]
    enrolled(client, bearer(token), authenticator)
    user_id = unverified_claims(token)["sub"]
    reset = client.delete(f"/api/admin/users/{user_id}/mfa", headers=auth_server.service_headers())
    assert reset.status_code == 200, reset.text
    # The password alone logs in again, and the passkey signs no one in.
    access = login(client, email)["accessToken"]
    assert amr(access) == ["pwd"]
    assert listed(client, bearer(access)) == []
    refused = passkey_login(client, authenticator.get(options(client, LOGIN)))
    assert_refused(refused, 401, "unknown_passkey")
