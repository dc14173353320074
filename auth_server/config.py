"""Settings of the auth server, read once from the environment into a typed object."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from limits import parse as parse_rate_limit
from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from redis.connection import parse_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA_DIR = PROJECT_ROOT / "data"
MIN_SERVICE_TOKEN_LENGTH = 32


class ConfigurationError(RuntimeError):
    """The settings do not allow the server to start safely."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", case_sensitive=False)

    environment: Literal["development", "test", "production"] = "development"
    auth_server_host: str = "127.0.0.1"
    auth_server_port: int = Field(default=4000, ge=1, le=65535)
    # Public base URL of this server; used in discovery and e-mailed links.
    auth_public_url: str = ""

    data_dir: Path = DEFAULT_DATA_DIR
    auth_database_url: str = ""
    redis_url: str = ""
    # Seconds any Redis call (connect, then each reply) may take: a hung Redis then costs
    # a login or logout milliseconds (its callers fail open), never seconds.
    redis_socket_timeout: float = Field(default=0.25, gt=0, le=30)
    # The deployment's name on a shared Redis: pub/sub channels ignore the database number,
    # so the revocation channel is named after it (see revocation_channel_name).
    redis_prefix: str = ""
    # Swagger UI (/api-docs) and /openapi.json on this listener. Default: on, except in
    # production, where the public listener should not map the API for everyone.
    api_docs: bool | None = None

    smtp_host: str = ""
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_user: str = ""
    smtp_password: SecretStr = SecretStr("")
    smtp_starttls: bool = True
    smtp_timeout: float = Field(default=10.0, gt=0)
    mail_from: str = "Rozitech <no-reply@rozitech.com>"
    # -- the mail outbox (outbox.py, mail_delivery.py) ----------------------------------
    # "embedded": each server process also delivers, woken by its own commits; "worker":
    # only `python -m auth_server mail-worker` processes deliver.
    mail_delivery: Literal["embedded", "worker"] = "embedded"
    # Seconds between looks for due mail (retries, mail other processes wrote).
    mail_poll_interval: float = Field(default=2.0, gt=0, le=300)
    # Retry back-off: MAIL_RETRY_BASE seconds, doubled per failed attempt, at most
    # MAIL_RETRY_MAX; after MAIL_MAX_ATTEMPTS attempts the mail is given up.
    mail_retry_base: float = Field(default=10.0, gt=0)
    mail_retry_max: float = Field(default=900.0, gt=0)
    mail_max_attempts: int = Field(default=12, ge=1)
    # How long a worker holds a mail it is sending before another may try it: longer than
    # any SMTP conversation (see mail_claim_is_long_enough), or one mail could go out twice.
    mail_claim_seconds: int = Field(default=300, ge=10)
    # Mails claimed per pass (each worker's batch).
    mail_batch_size: int = Field(default=20, ge=1, le=1000)
    # Sent and given-up rows (bodies already blanked) are deleted by `purge` after this.
    mail_retention_days: int = Field(default=7, ge=0)

    admin_email: str = "admin@rozitech.com"
    admin_password: SecretStr = SecretStr("")
    admin_organization: str = "Rozitech"

    access_token_ttl: int = Field(default=900, ge=30, le=86400)
    refresh_token_ttl: int = Field(default=30 * 86400, ge=60)
    refresh_reuse_grace: int = Field(default=10, ge=0, le=300)
    # Seconds a token's `iat` may lie in the future of this server's clock (the issuing
    # replica's clock may be ahead); separate from `exp`, which gets no leeway here.
    jwt_iat_skew: int = Field(default=5, ge=0, le=60)
    # Seconds a revocation event outlives the access tokens it covers (their `exp`): at
    # least the largest AUTH_JWT_LEEWAY of any verifier plus the clock skew between hosts.
    revocation_retention_margin: int = Field(default=120, ge=0, le=86400)
    # Write an audit event for every routine refresh (reuse is always recorded).
    audit_refresh: bool = False
    jwt_issuer: str = ""
    jwt_audience: str = "rozitech"
    # PEM-encoded RSA private key that signs access tokens (required in production).
    jwt_private_key: SecretStr = SecretStr("")
    # PEM-encoded public keys of retired signers whose tokens may still be alive.
    jwt_previous_public_keys: str = ""
    # PEM-encoded public keys staged to sign next (`rotate-keys --stage`): published and
    # accepted before any replica signs with them, so a rolling deploy refuses no token.
    jwt_next_public_keys: str = ""

    # argon2id cost; the floors are OWASP's minimum (m=19 MiB, t=2, p=1).
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_memory_kib: int = Field(default=19456, ge=19456)
    argon2_parallelism: int = Field(default=1, ge=1)

    verification_code_ttl: int = Field(default=900, ge=60)
    verification_max_attempts: int = Field(default=5, ge=1)
    trial_days: int = Field(default=14, ge=1)
    products: str = "teamspace,insurance,saas-admin"

    # Largest request body accepted, in bytes; larger ones get 413 before parsing.
    max_body_bytes: int = Field(default=64 * 1024, ge=1024)
    # Largest request line plus headers, in bytes; larger ones get 431 and the connection
    # is closed before anything more is read (nginx's default buffers hold 4 x 8 KiB).
    max_header_bytes: int = Field(default=16 * 1024, ge=4096, le=1024 * 1024)

    # -- account lifecycle and abuse protection ----------------------------------------
    # Where the e-mailed reset link points; "{token}" is replaced by the token.
    # Default: this server's own page, the token in the fragment (never sent in a request
    # line, so it stays out of access logs and Referer headers).
    password_reset_url: str = ""
    password_reset_ttl: int = Field(default=3600, ge=60, le=86400)
    # Failed logins per account (known or not) before its password login is locked.
    login_max_failures: int = Field(default=5, ge=1)
    login_lockout_seconds: int = Field(default=900, ge=1)
    # Requests per client IP on each abuse-prone endpoint, in the `limits` notation.
    rate_limit_per_ip: str = "100/minute"
    # Requests per e-mail address on signup, verify-email, resend and forgot-password.
    rate_limit_per_account: str = "20/hour"
    # Reset mails one client address can cause to one account; beyond it forgot-password
    # still answers 200 but sends nothing (per client address: see RateLimits).
    reset_mails_per_client: str = "3/hour"
    # Invitations one user may send per window (every organization together): invitation
    # mails go to any address typed in, so they must not be a spam cannon.
    invitations_per_user: str = "30/hour"
    # Where the e-mailed invitation link points; "{token}" is replaced by the token (in the
    # fragment by default: kept out of access logs and Referer headers).
    invitation_accept_url: str = ""
    invitation_ttl: int = Field(default=7 * 86400, ge=3600, le=30 * 86400)
    # The OpenID Connect provider's endpoints. Token: per client address (a product's server
    # speaks for all its users from one address: generous), and the failed client
    # authentications per client_id (every address together; the client's own authenticated
    # requests are not counted, so guesses cannot lock it out); authorize: per browser
    # address (the consent form's answers count too).
    oauth_token_per_ip: str = "600/minute"  # noqa: S105 (a rate, not a secret)
    oauth_token_per_client: str = "3000/minute"  # noqa: S105 (a rate, not a secret)
    oauth_authorize_per_ip: str = "300/minute"
    # Prefix of the counters' keys in Redis (several deployments may share one Redis).
    rate_limit_key_prefix: str = "auth-rl"
    # Peers whose X-Forwarded-For is believed (comma-separated IPs or CIDRs); empty: none.
    trusted_proxies: str = ""
    # Audit events older than this many days are deleted by `purge`; 0 keeps them forever.
    audit_retention_days: int = Field(default=365, ge=0)
    # Test only (ignored unless ENVIRONMENT=test): a file holding seconds to add to "now"
    # (this server's clock and the database's alike).
    test_clock_file: str = ""
    # Test only (ignored unless ENVIRONMENT=test): seconds by which this server's own clock
    # is wrong, database time unaffected (a replica whose host clock is skewed).
    test_clock_skew: float = 0.0

    # -- hosted pages and the browser (SSO) session ----------------------------------------
    # Name of the cookie that carries the browser session of the hosted pages (and OIDC).
    sso_cookie_name: str = Field(default="rz_sso", pattern=r"^[A-Za-z0-9_-]+$")
    # Seconds a browser session lasts from its sign-in; then the password is asked again.
    sso_session_ttl: int = Field(default=12 * 3600, ge=60, le=90 * 86400)

    # -- passkeys (WebAuthn) ---------------------------------------------------------------
    # The relying party id passkeys are bound to: this server's host or a parent domain of
    # it. Default: the host of AUTH_PUBLIC_URL. Changing it orphans every registered passkey.
    webauthn_rp_id: str = ""
    # The name an authenticator shows next to the account when a passkey is made.
    webauthn_rp_name: str = "Rozitech"
    # Origins (scheme://host[:port], comma-separated) whose pages may use the passkeys; an
    # answer signed for any other origin is refused. Default: AUTH_PUBLIC_URL's origin.
    webauthn_origins: str = ""

    # -- OpenID Connect provider --------------------------------------------------------
    # Seconds an authorization code may wait for its exchange (RFC 6749 recommends <= 600).
    oidc_code_ttl: int = Field(default=60, ge=10, le=600)

    # -- multi-factor authentication (auth_server/mfa/) --------------------------------------
    # Fernet keys (comma-separated, the first encrypts, all decrypt: a rotation) that encrypt
    # TOTP secrets at rest. Required in production; in development, generated once into
    # DATA_DIR/mfa-key when unset.
    mfa_encryption_key: SecretStr = SecretStr("")
    # The account's issuer name authenticator apps show next to the e-mail address.
    mfa_issuer: str = Field(default="Rozitech", min_length=1, max_length=100)

    # -- trusted services: revocation feed and admin API -------------------------------
    # The credential of trusted services (X-Service-Token header). Several, comma-separated,
    # during a rotation. Required in production; in development, generated once into
    # DATA_DIR/service-token when unset.
    service_token: SecretStr = SecretStr("")
    # Redis pub/sub channel on which each revocation event is published (with REDIS_URL).
    revocation_channel: str = Field(default="auth:revocations", min_length=1)
    # Most events one page of GET /api/auth/revocations returns.
    revocation_page_size: int = Field(default=1000, ge=1, le=10000)

    # -- observability (README, "Operating it") -----------------------------------------
    # Log lines as JSON objects (production default) or readable text (elsewhere).
    log_format: Literal["json", "console"] | None = None
    # The least severe line written (`make run` shows warnings only: mails, problems).
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Addresses that may scrape GET /metrics without the service credential (IPs or CIDRs,
    # comma-separated); anyone else needs X-Service-Token. Metrics reveal traffic patterns.
    metrics_allowed_networks: str = "127.0.0.0/8,::1"
    # OpenTelemetry (the [otel] extra): tracing is on when this standard variable is set.
    otel_exporter_otlp_endpoint: str = ""

    @field_validator(
        "rate_limit_per_ip", "rate_limit_per_account", "reset_mails_per_client",
        "invitations_per_user", "oauth_token_per_ip", "oauth_token_per_client",
        "oauth_authorize_per_ip",
    )  # fmt: skip
    @classmethod
    def _check_rate_limit(cls, value: str) -> str:
        # Refuse to start with a limit the library cannot read, rather than run unprotected.
        parse_rate_limit(value)
        return value

    @model_validator(mode="after")
    def _mail_claim_is_long_enough(self) -> Settings:
        # smtplib's timeout bounds each socket operation; a conversation has about five
        # (connect, EHLO, STARTTLS, AUTH, DATA): the claim must outlast all of them.
        if self.mail_claim_seconds < 6 * self.smtp_timeout:
            raise ValueError("MAIL_CLAIM_SECONDS must be at least 6 x SMTP_TIMEOUT")
        return self

    @field_validator("trusted_proxies", "metrics_allowed_networks")
    @classmethod
    def _check_trusted_proxies(cls, value: str) -> str:
        for entry in value.split(","):
            if entry.strip():
                ipaddress.ip_network(entry.strip(), strict=False)
        return value

    @model_validator(mode="after")
    def _derive_defaults(self) -> Settings:
        if not self.auth_public_url:
            self.auth_public_url = f"http://localhost:{self.auth_server_port}"
        if not self.jwt_issuer:
            self.jwt_issuer = self.auth_public_url
        if not self.auth_database_url:
            self.auth_database_url = f"sqlite:///{self.data_dir / 'auth.sqlite3'}"
        self.admin_email = self.admin_email.strip().lower()
        if self.api_docs is None:
            self.api_docs = not self.is_production
        if self.log_format is None:
            self.log_format = "json" if self.is_production else "console"
        if not self.password_reset_url:
            base = self.auth_public_url.rstrip("/")
            self.password_reset_url = f"{base}/reset-password#token={{token}}"
        public = urlsplit(self.auth_public_url)
        if not self.webauthn_rp_id:
            self.webauthn_rp_id = public.hostname or "localhost"
        if not self.webauthn_origins:
            self.webauthn_origins = f"{public.scheme}://{public.netloc}"
        if not self.invitation_accept_url:
            base = self.auth_public_url.rstrip("/")
            self.invitation_accept_url = f"{base}/accept-invitation#token={{token}}"
        return self

    @property
    def is_production(self) -> bool:
        return self.environment == "production"

    @property
    def secure_cookies(self) -> bool:
        """Cookies only over HTTPS: in production, or wherever the public URL is HTTPS."""
        return self.is_production or self.auth_public_url.startswith("https://")

    @property
    def product_codes(self) -> frozenset[str]:
        return frozenset(code.strip() for code in self.products.split(",") if code.strip())

    @property
    def trusted_proxy_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return _networks(self.trusted_proxies)

    @property
    def metrics_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        return _networks(self.metrics_allowed_networks)

    @property
    def revocation_channel_name(self) -> str:
        """REVOCATION_CHANNEL in this deployment's namespace (REDIS_PREFIX, database number).

        Redis delivers a PUBLISH to every subscriber of the name, whatever database either
        selected: two deployments on one Redis would otherwise apply each other's events.
        """
        return redis_channel(self.revocation_channel, self.redis_prefix, self.redis_url)

    @property
    def webauthn_origin_list(self) -> list[str]:
        return [
            origin.strip().rstrip("/")
            for origin in self.webauthn_origins.split(",")
            if origin.strip()
        ]

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def service_token_file(self) -> Path:
        return self.data_dir / "service-token"

    @property
    def mfa_key_file(self) -> Path:
        return self.data_dir / "mfa-key"

    @property
    def mfa_encryption_keys(self) -> list[str]:
        """The configured MFA_ENCRYPTION_KEY keys (comma-separated); maybe none."""
        raw = self.mfa_encryption_key.get_secret_value()
        return [key.strip() for key in raw.split(",") if key.strip()]

    @property
    def service_tokens(self) -> list[str]:
        """The configured service tokens (SERVICE_TOKEN, comma-separated); maybe none."""
        raw = self.service_token.get_secret_value()
        return [token.strip() for token in raw.split(",") if token.strip()]

    def check_production_ready(self) -> None:
        """Refuse to start in production with development fallbacks for secrets."""
        if not self.is_production:
            return
        missing = []
        # A generated key on local disk would differ per replica and vanish on redeploy.
        if not self.jwt_private_key.get_secret_value().strip():
            missing.append("JWT_PRIVATE_KEY")
        # Without SMTP, verification codes and reset links would only reach the log.
        if not self.smtp_host:
            missing.append("SMTP_HOST")
        # A generated file would differ per replica; and the admin API must never be open.
        if not self.service_tokens:
            missing.append("SERVICE_TOKEN")
        # A generated key would differ per replica: secrets encrypted by one unreadable by all.
        if not self.mfa_encryption_keys:
            missing.append("MFA_ENCRYPTION_KEY")
        if missing:
            raise ConfigurationError(
                "ENVIRONMENT=production requires " + ", ".join(missing) + " (see .env.example)"
            )
        # A short shared secret could be guessed; 32 characters of a random token cannot.
        if any(len(token) < MIN_SERVICE_TOKEN_LENGTH for token in self.service_tokens):
            raise ConfigurationError(
                f"SERVICE_TOKEN: each token needs at least {MIN_SERVICE_TOKEN_LENGTH} characters"
            )


def _networks(value: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    entries = (e.strip() for e in value.split(","))
    return [ipaddress.ip_network(e, strict=False) for e in entries if e]


def redis_channel(channel: str, prefix: str, redis_url: str) -> str:
    """`<prefix>:<channel>:db<N>`; the SaaS Admin's client derives the same name."""
    database = parse_url(redis_url).get("db", 0) if redis_url else 0  # type: ignore[no-untyped-call]
    return ":".join(part for part in (prefix, channel, f"db{database}") if part)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
