"""The credential of trusted services (the SaaS Admin, ...): revocation feed and admin API."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import logging
import os
import secrets
from pathlib import Path

from auth_server.config import ConfigurationError, Settings

logger = logging.getLogger("auth_server.service_auth")

# Header that carries the credential. Not `Authorization: Bearer`: a user's access token
# must never pass for a service credential, nor a service credential for a user.
SERVICE_TOKEN_HEADER = "X-Service-Token"  # noqa: S105 (a header name, not a secret)
# The end user a trusted service acts for (the SaaS Admin's login pass-through): believed only
# alongside a valid service token, so that per-IP limits, lockouts and the audit log see the
# person and not the service's one address.
END_USER_IP_HEADER = "X-End-User-IP"
END_USER_AGENT_HEADER = "X-End-User-Agent"


def development_secret(path: Path) -> str:
    """The secret in `path`, created (0600, 256 random bits) by the first process to need it.

    Written to a temporary file and hard-linked into place, so that concurrent workers
    never read a half-written file and all end up with the same token.
    """
    try:
        return _read(path)
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{secrets.token_hex(8)}")
    # 0600: the token grants the admin API; only this account may read it.
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(32) + "\n")
    try:
        os.link(temporary, path)
    except FileExistsError:
        pass  # another process won the race: its token is the one
    finally:
        with contextlib.suppress(OSError):
            temporary.unlink()
    return _read(path)


def _read(path: Path) -> str:
    token = path.read_text().strip()
    if not token:
        raise ConfigurationError(f"{path} is empty; delete it to generate a new service token")
    return token


class ServiceCredentials:
    """Checks a presented service token against every accepted one, in constant time."""

    def __init__(self, tokens: list[str]) -> None:
        if not tokens:
            raise ConfigurationError("no service token configured")
        self._tokens = tokens
        # Digests are compared, not the tokens: equal lengths, so even the time
        # compare_digest takes for different lengths says nothing about a token.
        self._digests = [_digest(token) for token in tokens]

    @classmethod
    def from_settings(cls, settings: Settings) -> ServiceCredentials:
        tokens = settings.service_tokens
        if tokens:
            return cls(tokens)
        # Only reached outside production (check_production_ready refuses it there).
        token = development_secret(settings.service_token_file)
        logger.info("SERVICE_TOKEN unset: using the development token in %s", token_file(settings))
        return cls([token])

    @property
    def primary(self) -> str:
        return self._tokens[0]

    def accepts(self, presented: str | None) -> bool:
        if not presented:
            return False
        candidate = _digest(presented)
        # Every configured token is compared, each in constant time (hmac.compare_digest),
        # so neither the timing nor the position of a match tells anything about a token.
        matched = False
        for digest in self._digests:
            matched |= hmac.compare_digest(candidate, digest)
        return matched


def token_file(settings: Settings) -> Path:
    return settings.service_token_file


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).digest()
