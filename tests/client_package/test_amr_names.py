"""The `amr`/`acr` names: the auth server spells them in auth_server/amr.py, the client
library (which verifiers such as the SaaS Admin import) in rozitech_auth/amr.py; the server
does not depend on the client package, so this test keeps the two spellings the same."""

from __future__ import annotations

import pytest
from rozitech_auth import amr as client

from auth_server import amr as server

NAMES = [
    "AMR_PASSWORD",
    "AMR_OTP",
    "AMR_HARDWARE_KEY",
    "AMR_SOFTWARE_KEY",
    "SECOND_FACTORS",
    "ACR_MFA",
    "ACR_PASSWORD",
]


@pytest.mark.parametrize("name", NAMES)
def test_the_client_spells_each_name_as_the_server_does(name: str) -> None:
    assert getattr(client, name) == getattr(server, name)


def test_no_name_is_missing_from_the_list() -> None:
    # A name added to either module without the other is caught here, not by a verifier.
    public = {n for n in vars(server) if n.isupper()} | {n for n in vars(client) if n.isupper()}
    assert public == set(NAMES)


@pytest.mark.parametrize(
    "methods",
    [[], ["pwd"], ["pwd", "otp"], ["hwk"], ["swk"], ["pwd", "swk", "otp"], ["mfa"]],
)
def test_acr_for_gives_the_same_class(methods: list[str]) -> None:
    assert client.acr_for(methods) == server.acr_for(methods)
