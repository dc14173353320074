"""The issuer tokens must name, learned from the auth server's discovery document.

The auth server signs with its public URL as issuer (JWT_ISSUER, by default AUTH_PUBLIC_URL),
which is rarely the URL a service reaches it at: http://auth:4000 or http://127.0.0.1:4000
inside, https://auth.example.com outside. Guessing the issuer from AUTH_SERVICE_URL refused
every token with a bare 401 and nothing in the log. So when AUTH_JWT_ISSUER is unset the
issuer comes from /.well-known/openid-configuration, cached like the JWKS (refetched after
its lifespan, the last good value kept through an outage); when it is set and the server says
otherwise, the error names both values in the log and in /health.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from rozitech_auth.errors import AuthServerError, AuthServerUnavailable

logger = logging.getLogger("rozitech_auth.discovery")


class Issuer:
    """AUTH_JWT_ISSUER, or the issuer the auth server's discovery document names."""

    def __init__(
        self,
        fetch: Callable[[], dict[str, Any]],
        configured: str,
        lifespan: float,
        refetch_cooldown: float,
        service_url: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._fetch = fetch
        self.configured = configured
        self.lifespan = lifespan
        self.refetch_cooldown = refetch_cooldown
        self.service_url = service_url
        self._clock = clock
        self._lock = threading.Lock()
        self._discovered: str | None = None
        self._fresh_until = 0.0
        self._logged = ""

    def expected(self) -> str:
        """The issuer to require; 503 (AuthServerUnavailable) while it cannot be learned."""
        return self.configured or self.discovered()

    def discovered(self) -> str:
        with self._lock:
            if self._discovered is None or self._clock() >= self._fresh_until:
                self._refresh()
            assert self._discovered is not None
            return self._discovered

    def mismatch(self) -> str | None:
        """Why a configured issuer refuses every token (logged once per value), or None
        when it agrees with the server, is not configured, or the server cannot say."""
        if not self.configured:
            return None
        try:
            discovered = self.discovered()
        except (AuthServerUnavailable, AuthServerError):
            return None
        if discovered == self.configured:
            return None
        message = (
            f"AUTH_JWT_ISSUER is {self.configured!r} but the auth server at "
            f"{self.service_url or '(AUTH_SERVICE_URL)'} signs its tokens with issuer "
            f"{discovered!r}: every token is refused. Unset AUTH_JWT_ISSUER (it is then "
            "learned from the auth server) or set it to the server's issuer."
        )
        if message != self._logged:
            self._logged = message
            logger.error(message)
        return message

    def _refresh(self) -> None:
        try:
            issuer = self._fetch().get("issuer")
            if not isinstance(issuer, str) or not issuer:
                raise AuthServerUnavailable("The authentication service names no issuer")
        except AuthServerUnavailable:
            if self._discovered is None:
                raise
            # Keep the last issuer through an outage; ask again after a cool-down.
            self._fresh_until = self._clock() + self.refetch_cooldown
            return
        self._discovered = issuer
        self._fresh_until = self._clock() + self.lifespan
