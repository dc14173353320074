"""Signals for the service that uses the client library."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.db import connections
from django.dispatch import Signal

from rozitech_auth.django.users import erase_local_user
from rozitech_auth.revocations import MEMBERSHIP_CHANGED, erased_user

# Sent when a token's local user was synced: `user` and `token` (an AuthToken). Receivers
# mirror what else the token says, e.g. the organization and role. Not for a known user's
# token that says nothing new (LocalUsers: same fields, organization, role and licenses as
# the last one announced, within the cache TTL, no local save or feed event since): so at
# most once per token and cache TTL, and usually once per user and change.
token_verified = Signal()

# Sent (hybrid mode) for each `membership_changed` event of the auth server's revocation
# feed: `user_id` and `organization_id` (the auth server's ids, lower-case strings),
# `reason` ("role_changed", "removed" or "left") and `issued_before` (epoch seconds: what
# was known before then is outdated). Sent on the feed's thread, possibly more than once per
# event (the channel and the feed, every backfill): receivers must be idempotent and ordered
# by `issued_before`.
membership_changed = Signal()


def announce(event: Mapping[str, Any]) -> None:
    """The feed's listener (rozitech_auth.revocations): membership events as the signal; an
    erased user's local user deleted (the person's data goes here too, as at the auth
    server; their tokens are refused already, the set applies an event before its listener)."""
    erased = erased_user(event)
    if event.get("type") != MEMBERSHIP_CHANGED and erased is None:
        return
    try:
        if erased is not None:
            erase_local_user(erased)
        else:
            membership_changed.send(
                sender=None,
                user_id=str(event["sub"]).lower(),
                organization_id=str(event["org"]).lower(),
                reason=str(event.get("reason") or ""),
                issued_before=int(event["issuedBefore"]),
            )
    finally:
        # The feed's thread lives on between events: no database connection held open
        # (nor left to hold a test database, or a server slot, for ever).
        connections.close_all()
