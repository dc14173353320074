"""A browser session's `last_used_at` (the account page's "last used") follows its use by
the hosted pages and the authorization endpoint, at most once a minute."""

from __future__ import annotations

import uuid
from datetime import datetime

from auth_server.models import AuthSession
from tests.auth_server.helpers import PASSWORD, database
from tests.oidc.support import Browser, authorization, callback_params, register
from tests.support.auth_process import AuthServerProcess
from tests.support.lifecycle import TestClock


def _last_used(server: AuthServerProcess, browser: Browser) -> datetime:
    session_id = uuid.UUID(browser.http.cookies["rz_sso"].partition(".")[0])
    with database(server) as db:
        row = db.get(AuthSession, session_id)
        assert row is not None
        return row.last_used_at


def test_last_used_at_moves_with_use_at_most_once_a_minute(
    server: AuthServerProcess, browser: Browser, email: str, clock: TestClock
) -> None:
    browser.sign_in(email, PASSWORD)
    signed_in = _last_used(server, browser)

    # Within the minute: used, but nothing written.
    clock.advance(30)
    assert browser.go("/account").status_code == 200
    assert _last_used(server, browser) == signed_in

    # Past it: the page view records the use, once.
    clock.advance(40)
    assert browser.go("/account").status_code == 200
    viewed = _last_used(server, browser)
    assert (viewed - signed_in).total_seconds() >= 70
    assert browser.go("/account").status_code == 200
    assert _last_used(server, browser) == viewed

    # An authorization request with the cookie is a use too.
    clock.advance(61)
    _rp, url, _verifier = authorization(server, register(server))
    assert "code" in callback_params(browser.go(url))
    assert (_last_used(server, browser) - viewed).total_seconds() >= 61
