"""The client library's settings: read once into a typed object, every default in `load`.

Where they are read from is a `Source`: the environment by default (any framework), Django's
settings once the Django adapter is imported (rozitech_auth.django), or a mapping given in
code (`use_source(Source.from_mapping({...}))`). The names are the same everywhere
(AUTH_SERVICE_URL, AUTH_VERIFY_MODE, AUTH_SERVICE_TOKEN, ...).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from redis.connection import parse_url

from rozitech_auth.end_user import IPNetwork, parse_networks

# The longest wait the auth server's revocation feed accepts (its MAX_WAIT).
MAX_REVOCATION_WAIT = 30.0


@dataclass(frozen=True)
class ClientSettings:
    service_url: str
    timeout: float
    connect_timeout: float
    pool_size: int
    breaker_threshold: int
    breaker_cooldown: float
    verify_mode: str
    jwt_issuer: str
    jwt_audience: str
    jwt_leeway: int
    jwt_iat_skew: int
    jwks_lifespan: float
    jwks_refetch_cooldown: float
    negative_cache_ttl: int
    cache_alias: str
    user_id_field: str
    max_token_bytes: int
    # The auth server's service credential (feed, admin API), or a file that holds it.
    service_token: str
    service_token_file: str
    # Hybrid mode: the revocation feed.
    revocation_poll_interval: float
    # Without Redis: seconds one waiting (long-poll) read of the feed may wait; 0: polling.
    revocation_wait: float
    revocation_max_staleness: float
    revocation_redis_url: str
    revocation_channel: str
    # Seconds any Redis call of the channel may take (connect, each reply).
    redis_socket_timeout: float
    # Reverse proxies in front of this service whose X-Forwarded-For names the end user.
    trusted_proxies: tuple[IPNetwork, ...]


class ImproperlyConfigured(ValueError):
    """A setting is missing or wrong (Django's own ImproperlyConfigured under Django)."""


@dataclass(frozen=True)
class Source:
    """Where settings come from: `get(name, default)`, and the error a bad one raises."""

    get: Callable[[str, Any], Any]
    error: Callable[[str], Exception] = ImproperlyConfigured

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any]) -> Source:
        return cls(values.get)


ENVIRONMENT = Source(os.environ.get)
_source = ENVIRONMENT


def use_source(source: Source) -> None:
    """Read the settings from `source` from now on (the values read so far are dropped)."""
    global _source
    _source = source
    reset()


# Every setting and its default: the one place defaults live (a framework's settings file
# only sets what differs).
DEFAULTS: dict[str, Any] = {
    "AUTH_SERVICE_URL": "http://localhost:4000",
    "AUTH_SERVICE_TIMEOUT": 5,
    "AUTH_SERVICE_CONNECT_TIMEOUT": 2,
    "AUTH_SERVICE_POOL_SIZE": 20,
    "AUTH_CIRCUIT_BREAKER_THRESHOLD": 5,
    "AUTH_CIRCUIT_BREAKER_COOLDOWN": 30,
    "AUTH_VERIFY_MODE": "hybrid",
    "AUTH_JWT_ISSUER": "",
    "AUTH_JWT_AUDIENCE": "rozitech",
    "AUTH_JWT_LEEWAY": 0,
    "AUTH_JWT_IAT_SKEW": 5,
    "AUTH_JWKS_LIFESPAN": 300,
    "AUTH_JWKS_REFETCH_COOLDOWN": 30,
    "AUTH_NEGATIVE_CACHE_TTL": 10,
    "AUTH_CACHE_ALIAS": "default",
    "AUTH_USER_ID_FIELD": "auth_user_id",
    "AUTH_MAX_TOKEN_BYTES": 8192,
    "AUTH_SERVICE_TOKEN": "",
    "AUTH_SERVICE_TOKEN_FILE": "",
    "AUTH_REVOCATION_POLL_INTERVAL": 1,
    "AUTH_REVOCATION_WAIT": 15,
    "AUTH_REVOCATION_MAX_STALENESS": 30,
    # Unset or "": the service's own REDIS_URL; "none": no channel, the feed alone.
    "AUTH_REVOCATION_REDIS_URL": None,
    # Unset: TRUSTED_PROXIES (the auth server's variable); comma-separated IPs or CIDRs.
    "AUTH_TRUSTED_PROXIES": None,
    "AUTH_REVOCATION_CHANNEL": "auth:revocations",
    # The deployment's name on a shared Redis (the auth server's REDIS_PREFIX).
    "REDIS_PREFIX": "",
    "REDIS_SOCKET_TIMEOUT": 0.25,
}


def _get(name: str, default: Any = None) -> Any:
    return _source.get(name, DEFAULTS.get(name, default))


def from_environment() -> dict[str, str]:
    """The settings the environment sets (for a settings file that passes them on)."""
    return {name: os.environ[name] for name in DEFAULTS if name in os.environ}


def check_verify_mode(mode: str) -> str:
    """`mode` if the registry knows it (rozitech_auth.verification.VERIFIERS)."""
    # Imported here: the registry's verifiers import these settings.
    from rozitech_auth.verification import VERIFIERS

    if mode in VERIFIERS:
        return mode
    raise _source.error(
        f"AUTH_VERIFY_MODE={mode!r} is not a verification mode; use one of "
        + ", ".join(repr(m) for m in VERIFIERS)
    )


def _redis_url() -> str:
    # Unset and "" alike mean the service's REDIS_URL (an empty line in an .env file).
    configured = _get("AUTH_REVOCATION_REDIS_URL") or _get("REDIS_URL", "")
    value = str(configured or "").strip()
    return "" if value.lower() == "none" else value


def redis_channel(channel: str, prefix: str, redis_url: str) -> str:
    """`<prefix>:<channel>:db<N>`, as the auth server names its channel (REDIS_PREFIX).

    Redis delivers a PUBLISH to every subscriber of the name, whatever database either
    selected: without the deployment's prefix and database number two deployments on one
    Redis would apply each other's revocations.
    """
    database = parse_url(redis_url).get("db", 0) if redis_url else 0  # type: ignore[no-untyped-call]
    return ":".join(part for part in (prefix, channel, f"db{database}") if part)


def _trusted_proxies() -> tuple[IPNetwork, ...]:
    value = str(_get("AUTH_TRUSTED_PROXIES") or _get("TRUSTED_PROXIES", "") or "")
    try:
        return parse_networks(value)
    except ValueError as exc:
        raise _source.error(f"TRUSTED_PROXIES: {exc}") from exc


def load() -> ClientSettings:
    """Read and validate every setting; ImproperlyConfigured names the first bad one."""
    service_url = str(_get("AUTH_SERVICE_URL")).rstrip("/")
    if not service_url.startswith(("http://", "https://")):
        raise _source.error("AUTH_SERVICE_URL must be an http(s) URL")
    timeout = float(_get("AUTH_SERVICE_TIMEOUT"))
    redis_url = _redis_url()
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        raise _source.error("AUTH_REVOCATION_REDIS_URL must be a redis:// URL")
    values = ClientSettings(
        service_url=service_url,
        timeout=timeout,
        connect_timeout=min(float(_get("AUTH_SERVICE_CONNECT_TIMEOUT")), timeout),
        pool_size=int(_get("AUTH_SERVICE_POOL_SIZE")),
        breaker_threshold=int(_get("AUTH_CIRCUIT_BREAKER_THRESHOLD")),
        breaker_cooldown=float(_get("AUTH_CIRCUIT_BREAKER_COOLDOWN")),
        verify_mode=check_verify_mode(str(_get("AUTH_VERIFY_MODE"))),
        # The issuer the auth server signs with (its JWT_ISSUER, by default its public URL);
        # "": learned from its discovery document (rozitech_auth.discovery).
        jwt_issuer=str(_get("AUTH_JWT_ISSUER") or ""),
        jwt_audience=str(_get("AUTH_JWT_AUDIENCE")),
        jwt_leeway=int(_get("AUTH_JWT_LEEWAY")),
        # Seconds `iat` may lie in the future: clock differences between replicas.
        jwt_iat_skew=int(_get("AUTH_JWT_IAT_SKEW")),
        jwks_lifespan=float(_get("AUTH_JWKS_LIFESPAN")),
        jwks_refetch_cooldown=float(_get("AUTH_JWKS_REFETCH_COOLDOWN")),
        negative_cache_ttl=int(_get("AUTH_NEGATIVE_CACHE_TTL")),
        cache_alias=str(_get("AUTH_CACHE_ALIAS")),
        user_id_field=str(_get("AUTH_USER_ID_FIELD")),
        # A bound on what we hash, cache-key and forward: real access tokens are ~1 KB.
        max_token_bytes=int(_get("AUTH_MAX_TOKEN_BYTES")),
        service_token=str(_get("AUTH_SERVICE_TOKEN")).strip(),
        service_token_file=str(_get("AUTH_SERVICE_TOKEN_FILE")),
        revocation_poll_interval=float(_get("AUTH_REVOCATION_POLL_INTERVAL")),
        revocation_wait=float(_get("AUTH_REVOCATION_WAIT")),
        revocation_max_staleness=float(_get("AUTH_REVOCATION_MAX_STALENESS")),
        revocation_redis_url=redis_url,
        revocation_channel=redis_channel(
            str(_get("AUTH_REVOCATION_CHANNEL")), str(_get("REDIS_PREFIX") or ""), redis_url
        ),
        redis_socket_timeout=float(_get("REDIS_SOCKET_TIMEOUT")),
        trusted_proxies=_trusted_proxies(),
    )
    if values.redis_socket_timeout <= 0:
        raise _source.error("REDIS_SOCKET_TIMEOUT must be positive")
    if values.timeout <= 0 or values.connect_timeout <= 0:
        raise _source.error("AUTH_SERVICE_TIMEOUT and _CONNECT_TIMEOUT must be positive")
    if values.breaker_threshold < 1 or values.breaker_cooldown <= 0:
        raise _source.error("AUTH_CIRCUIT_BREAKER_THRESHOLD must be >= 1 and _COOLDOWN positive")
    if values.revocation_poll_interval <= 0 or values.revocation_max_staleness <= 0:
        raise _source.error(
            "AUTH_REVOCATION_POLL_INTERVAL and AUTH_REVOCATION_MAX_STALENESS must be positive"
        )
    if not 0 <= values.revocation_wait <= MAX_REVOCATION_WAIT:
        raise _source.error(
            f"AUTH_REVOCATION_WAIT must be between 0 and {MAX_REVOCATION_WAIT:g} seconds"
        )
    if min(values.jwt_leeway, values.jwt_iat_skew, values.negative_cache_ttl) < 0:
        raise _source.error(
            "AUTH_JWT_LEEWAY, AUTH_JWT_IAT_SKEW and AUTH_NEGATIVE_CACHE_TTL must be >= 0"
        )
    return values


@lru_cache(maxsize=1)
def client_settings() -> ClientSettings:
    """The settings, read and checked once (load() is pure: a race only reads them twice)."""
    return load()


def reset() -> None:
    """Forget the settings read so far (tests change settings; see rozitech_auth.django.apps)."""
    client_settings.cache_clear()
