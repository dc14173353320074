"""Signals for the service that uses the client library."""

from __future__ import annotations

from django.dispatch import Signal

# Sent when a token was verified afresh (not served from the cache) and its local user
# synced: `user` and `token` (an AuthToken). Receivers mirror what else the token says,
# e.g. the organization and role; they run at most once per token and cache TTL.
token_verified = Signal()
