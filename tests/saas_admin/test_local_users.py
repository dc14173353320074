"""LocalUsers: a known user's new token costs no query; anything new in a token, a local
save, a feed event naming the user, or the TTL makes the next token read the row again."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from pytest_django import DjangoAssertNumQueries
from pytest_django.fixtures import Settings
from rest_framework.test import APIClient
from rozitech_auth import tokens
from rozitech_auth.django.signals import token_verified
from rozitech_auth.django.users import LocalUsers
from rozitech_auth.tokens import VerifiedToken

from tests.saas_admin.helpers import Account, bearer, now, remint
from tests.support.auth_process import AuthServerProcess

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def local_mode(settings: Settings) -> None:
    settings.AUTH_VERIFY_MODE = "local"


@pytest.fixture
def announced() -> Iterator[list[str]]:
    """The e-mails of the tokens token_verified announced."""
    seen: list[str] = []

    def receiver(sender: Any, user: Any, token: Any, **_kwargs: Any) -> None:
        seen.append(token.claims.get("email"))

    token_verified.connect(receiver, dispatch_uid="test_local_users")
    yield seen
    token_verified.disconnect(dispatch_uid="test_local_users")


def new_token(server: AuthServerProcess, account: Account, **changes: Any) -> str:
    """Another token of the same session (a new `jti`), as a refresh would bring."""
    return remint(server, account.access_token, jti=uuid.uuid4().hex, iat=now(), **changes)


def test_a_known_users_new_token_costs_no_query_and_is_not_announced_again(
    api: APIClient,
    account: Account,
    auth_server: AuthServerProcess,
    announced: list[str],
    django_assert_num_queries: DjangoAssertNumQueries,
) -> None:
    assert api.get("/protected", headers=bearer(new_token(auth_server, account))).status_code == 200
    assert announced == [account.email]
    with django_assert_num_queries(0):
        response = api.get("/protected", headers=bearer(new_token(auth_server, account)))
    assert response.status_code == 200
    assert response.json()["user"]["email"] == account.email
    assert announced == [account.email]


def test_a_token_that_says_something_new_is_synced_and_announced(
    api: APIClient, account: Account, auth_server: AuthServerProcess, announced: list[str]
) -> None:
    assert api.get("/protected", headers=bearer(new_token(auth_server, account))).status_code == 200
    renamed = new_token(auth_server, account, given_name="Renamed")
    assert api.get("/protected", headers=bearer(renamed)).status_code == 200
    assert announced == [account.email, account.email]
    user = get_user_model()._default_manager.get(auth_user_id=account.user_id)
    assert user.first_name == "Renamed"


def test_a_local_save_makes_the_next_token_read_the_row(
    api: APIClient, account: Account, auth_server: AuthServerProcess
) -> None:
    assert api.get("/protected", headers=bearer(new_token(auth_server, account))).status_code == 200
    user = get_user_model()._default_manager.get(auth_user_id=account.user_id)
    user.is_active = False
    user.save(update_fields=["is_active"])
    # Deactivated here (the admin site): the very next token, not the one after the TTL.
    assert api.get("/protected", headers=bearer(new_token(auth_server, account))).status_code == 401


def verified_token(user_id: uuid.UUID, **claims: Any) -> VerifiedToken:
    return VerifiedToken(user_id, now() + 60, {"email": "a@example.com", **claims}, "local")


def test_a_feed_event_naming_the_user_and_the_ttl_drop_the_entry() -> None:
    users, user_id = LocalUsers(), uuid.uuid4()
    verified = verified_token(user_id)
    users.sync(verified, 60, get_user_model())
    assert users.get(verified, ttl=60) is not None
    # Another token saying the same is served; one saying something new is not.
    assert users.get(verified_token(user_id), ttl=60) is not None
    assert users.get(verified_token(user_id, email="b@example.com"), ttl=60) is None
    # A shorter TTL (another authentication class) than the entry's age: not served.
    entry = users.get(verified, ttl=60)
    assert entry is not None
    assert users.get(verified, ttl=tokens.now() - entry.synced_at) is None

    users.forget_event({"type": "membership_changed", "sub": str(user_id).upper()})
    assert users.get(verified, ttl=60) is None


def test_a_sync_that_raced_a_forget_is_not_stored_its_own_writes_do_not_count() -> None:
    users, user_id = LocalUsers(), uuid.uuid4()
    verified = verified_token(user_id)

    def sync_saving_the_row() -> Any:
        users.saved(user_id)  # this sync's own write (post_save in the syncing thread)
        return get_user_model()()

    users.sync(verified, 60, sync_saving_the_row)
    assert users.get(verified, ttl=60) is not None

    def sync_during_a_feed_event() -> Any:
        users.forget_event({"type": "user", "sub": str(user_id)})  # the feed's thread
        return get_user_model()()

    users.sync(verified, 60, sync_during_a_feed_event)
    assert users.get(verified, ttl=60) is None
