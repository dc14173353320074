"""AuthServerClient: the auth server's HTTP API, its answers mapped onto rozitech_auth.errors.

    from rozitech_auth.client import get_auth_client
    identity = get_auth_client().verify_token(access_token)

Outages (connection refused, timeout, 5xx, breaker open) raise `AuthServerUnavailable`
(503 with Retry-After at the edge), never a refusal: an outage must not log users out.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from http.cookiejar import DefaultCookiePolicy
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from rozitech_auth.breaker import CircuitBreaker, CircuitOpen
from rozitech_auth.conf import ClientSettings, client_settings
from rozitech_auth.end_user import EndUser
from rozitech_auth.errors import (
    AuthServerError,
    AuthServerRejected,
    AuthServerUnavailable,
    AuthServiceUnavailable,
    Conflict,
    EmailAlreadyExists,
)
from rozitech_auth.request_id import REQUEST_ID_HEADER
from rozitech_auth.request_id import current as current_request_id

# The auth server's header for a trusted service's credential (never Authorization).
SERVICE_TOKEN_HEADER = "X-Service-Token"  # noqa: S105 (a header name)
# The end user a trusted service acts for; believed by the auth server only with the above.
END_USER_IP_HEADER = "X-End-User-IP"
END_USER_AGENT_HEADER = "X-End-User-Agent"
# The wire's sign-up fields, as the original client's single dict carried them.
SIGNUP_FIELDS = ("email", "password", "firstName", "lastName", "company", "phone", "products")

logger = logging.getLogger("rozitech_auth.client")

__all__ = [
    "AuthServerClient",
    "AuthServerError",
    "AuthServerRejected",
    "AuthServerUnavailable",
    "AuthServiceUnavailable",
    "Conflict",
    "EmailAlreadyExists",
    "get_auth_client",
    "reset_auth_client",
]


def _envelope(response: requests.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _request_id_header() -> dict[str, str]:
    """The request being served here, followed into the auth server's logs and audit."""
    request_id = current_request_id()
    return {REQUEST_ID_HEADER: request_id} if request_id is not None else {}


def _server_retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    return float(value) if value.isdigit() else None


class AuthServerClient:
    """One pooled, keep-alive HTTP session to the auth server; thread-safe; share it."""

    def __init__(
        self,
        base_url: str | None = None,
        *,
        timeout: float | None = None,
        connect_timeout: float | None = None,
        pool_size: int | None = None,
        breaker: CircuitBreaker | None = None,
        conf: ClientSettings | None = None,
    ) -> None:
        conf = conf or client_settings()
        self.base_url = (base_url or conf.service_url).rstrip("/")
        read_timeout = timeout if timeout is not None else conf.timeout
        connect = connect_timeout if connect_timeout is not None else conf.connect_timeout
        self.timeout: tuple[float, float] = (min(connect, read_timeout), read_timeout)
        self.breaker = breaker or CircuitBreaker(conf.breaker_threshold, conf.breaker_cooldown)
        size = pool_size or conf.pool_size
        session = requests.Session()
        # max_retries=0: urllib3 never re-sends a request on its own, so a POST (login,
        # refresh, signup) is never sent twice; only GETs are retried, below.
        adapter = HTTPAdapter(pool_connections=1, pool_maxsize=size, max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        # Shared by every user of this process: never keep cookies from one call for the next.
        session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
        # No proxies or .netrc credentials from the environment: we talk to one known host.
        session.trust_env = False
        session.headers.update({"Accept": "application/json", "User-Agent": "rozitech-core/1"})
        self.session = session
        self.conf = conf
        self._service_token = ""

    def close(self) -> None:
        self.session.close()

    # -- the nine operations -------------------------------------------------------------

    def verify_token(self, access_token: str) -> dict[str, Any]:
        """{user, organization, licenses} of a valid access token (GET /api/auth/me)."""
        return self._call("GET", "/api/auth/me", token=access_token)

    def refresh_token(
        self, refresh_token: str, *, end_user: EndUser | None = None
    ) -> dict[str, Any]:
        """{accessToken, refreshToken, tokenType, expiresIn}; the refresh token is rotated.

        Retried once when the answer may have been lost: the server may have rotated the
        token already, and the same token again within its REFRESH_REUSE_GRACE is a retry
        that gets fresh tokens of the same session (never reuse, never a second family).
        """
        body = {"refreshToken": refresh_token}
        try:
            return self._call("POST", "/api/auth/refresh", json=body, end_user=end_user)
        except AuthServerUnavailable as exc:
            if not exc.answer_lost:
                raise
            logger.info("Auth server refresh answer lost; retrying once")
            return self._call("POST", "/api/auth/refresh", json=body, end_user=end_user)

    def login(
        self, email: str, password: str, *, end_user: EndUser | None = None
    ) -> dict[str, Any]:
        """{accessToken, refreshToken, tokenType, expiresIn, user, organization, licenses};
        for a user with a second factor {mfaRequired, mfaToken, methods, expiresIn} instead,
        completed by `verify_mfa`.

        `end_user`: the person this service logs in for (rozitech_auth.end_user), so that the auth
        server's per-IP limits, lockouts and audit log see them rather than this service."""
        return self._call(
            "POST", "/api/auth/login", json={"email": email, "password": password},
            end_user=end_user,
        )  # fmt: skip

    def verify_mfa(
        self, mfa_token: str, factor: Mapping[str, Any], *, end_user: EndUser | None = None
    ) -> dict[str, Any]:
        """The login's second step: `factor` is {"code": ...}, {"recoveryCode": ...} or
        {"webauthn": <credential>}; answers as `login` does. Send the same `end_user` as the
        first step: the mfaToken only works from the address that passed the password."""
        return self._call(
            "POST", "/api/auth/mfa/verify", json={"mfaToken": mfa_token, **factor},
            end_user=end_user,
        )  # fmt: skip

    def signup(
        self,
        email: str | Mapping[str, Any],
        password: str = "",
        first_name: str = "",
        last_name: str = "",
        company: str = "",
        phone: str | None = None,
        products: list[str] | None = None,
        *,
        end_user: EndUser | None = None,
    ) -> dict[str, Any]:
        """{userId, email, organizationId, emailVerified, message}; a code is e-mailed.

        Takes keyword arguments, or (as the original client did) one dict with the wire's
        fields: {email, password, firstName, lastName, company, phone, products}."""
        if isinstance(email, Mapping):
            body = {k: email[k] for k in SIGNUP_FIELDS if email.get(k) is not None}
        else:
            body = {
                "email": email,
                "password": password,
                "firstName": first_name,
                "lastName": last_name,
                "company": company,
            }
            if phone:
                body["phone"] = phone
            if products is not None:
                body["products"] = products
        return self._call("POST", "/api/auth/signup", json=body, end_user=end_user)

    def logout(self, refresh_token: str, *, end_user: EndUser | None = None) -> bool:
        """Revoke the refresh token's session (idempotent); True, as the original client."""
        self._call(
            "POST", "/api/auth/logout", json={"refreshToken": refresh_token}, end_user=end_user
        )
        return True

    def verify_email(
        self, email: str, code: str, *, end_user: EndUser | None = None
    ) -> dict[str, Any]:
        return self._call(
            "POST", "/api/auth/verify-email", json={"email": email, "code": code},
            end_user=end_user,
        )  # fmt: skip

    def request_password_reset(self, email: str, *, end_user: EndUser | None = None) -> bool:
        """True for any well-formed e-mail (no account enumeration), as the original client."""
        self._call("POST", "/api/auth/forgot-password", json={"email": email}, end_user=end_user)
        return True

    def reset_password(self, token: str, password: str, *, end_user: EndUser | None = None) -> bool:
        """True once the password is set (every session of the user is then revoked);
        errors raise, as for every operation."""
        self._call(
            "POST", "/api/auth/reset-password", json={"token": token, "password": password},
            end_user=end_user,
        )  # fmt: skip
        return True

    def health_check(self) -> dict[str, Any]:
        """The /health body (healthy or unhealthy); {status: "unreachable", error} when the
        server cannot be reached. Never raises; bypasses the breaker (it is the probe)."""
        try:
            response = self.session.get(
                f"{self.base_url}/health",
                headers=_request_id_header(),
                timeout=self.timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            return {"status": "unreachable", "error": type(exc).__name__}
        body = _envelope(response)
        if not body:
            return {"status": "unreachable", "error": f"HTTP {response.status_code}"}
        return body

    # -- service calls (X-Service-Token) ---------------------------------------------------

    def set_license(
        self,
        organization_id: str,
        product_code: str,
        *,
        status: str,
        expires_at: str | None,
        version: int,
        seats: int | None = None,
    ) -> dict[str, Any]:
        """PUT the organization's license of a product; idempotent and versioned: an older
        version never overwrites a newer one. `seats`: how many members the license is for
        (None: unlimited). {license, applied}."""
        return self._call(
            "PUT",
            f"/api/admin/organizations/{organization_id}/licenses/{product_code}",
            json={"status": status, "expiresAt": expires_at, "version": version, "seats": seats},
            service=True,
        )

    def revocations(
        self, since: str = "0", limit: int | None = None, wait: float = 0
    ) -> dict[str, Any]:
        """Live revocation events after the cursor `since` ("0": all of them), oldest first:
        {events, cursor, hasMore}. Service call (X-Service-Token). With `wait` (seconds, at
        most 30) an empty answer is held until an event comes or the time is up: give this
        client a read timeout above `wait`."""
        params: dict[str, Any] = {"since": since}
        if limit:
            params["limit"] = limit
        if wait:
            params["wait"] = wait
        query = urlencode(params)
        return self._call("GET", f"/api/auth/revocations?{query}", service=True)

    def fetch_jwks(self) -> dict[str, Any]:
        """The public signing keys (/.well-known/jwks.json), for local verification."""
        return self._call("GET", "/.well-known/jwks.json", enveloped=False)

    def fetch_discovery(self) -> dict[str, Any]:
        """The discovery document (/.well-known/openid-configuration): the issuer, ..."""
        return self._call("GET", "/.well-known/openid-configuration", enveloped=False)

    # -- transport and error mapping ---------------------------------------------------------

    def _call(
        self,
        method: str,
        path: str,
        *,
        json: dict[str, Any] | None = None,
        token: str | None = None,
        enveloped: bool = True,
        service: bool = False,
        end_user: EndUser | None = None,
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        if service:
            headers[SERVICE_TOKEN_HEADER] = self.service_token()
        if end_user is not None:
            headers.update(self._end_user_headers(end_user))
        try:
            self.breaker.before_call()
        except CircuitOpen as exc:
            raise AuthServerUnavailable(retry_after=exc.retry_after) from None
        recorded = False
        try:
            response = self._send(method, path, json=json, headers=headers)
            if response.status_code >= 500:
                self.breaker.record_failure()
                recorded = True
                logger.warning("Auth server %s %s -> %s", method, path, response.status_code)
                raise AuthServerUnavailable(
                    retry_after=self._retry_after(response),
                    answer_lost=response.status_code in (502, 503),
                )
            self.breaker.record_success()
            recorded = True
        except requests.RequestException as exc:
            self.breaker.record_failure()
            recorded = True
            logger.warning("Auth server %s %s failed: %s", method, path, type(exc).__name__)
            raise AuthServerUnavailable(
                retry_after=self._retry_after(None),
                # A read timeout is not retried: the server may simply be slow.
                answer_lost=isinstance(exc, requests.ConnectionError),
            ) from exc
        finally:
            if not recorded:
                # Something unexpected happened locally: do not leave a half-open trial stuck.
                self.breaker.record_failure()
        if service and response.status_code == 401:
            # Our own credential was refused: a deployment error, not the end user's.
            logger.error("The auth server refused this service's AUTH_SERVICE_TOKEN")
            raise AuthServerError("The authentication service refused this service's credential")
        return self._data(response, enveloped)

    def service_token(self) -> str:
        """AUTH_SERVICE_TOKEN, or the content of AUTH_SERVICE_TOKEN_FILE (read once it exists:
        the development auth server writes it on its first start)."""
        if not self._service_token:
            configured = self.conf.service_token
            if not configured and self.conf.service_token_file:
                try:
                    configured = Path(self.conf.service_token_file).read_text().strip()
                except OSError:
                    configured = ""
            if not configured:
                raise AuthServerError(
                    "No service credential: set AUTH_SERVICE_TOKEN (the auth server's "
                    "SERVICE_TOKEN)"
                )
            self._service_token = configured
        return self._service_token

    def _end_user_headers(self, end_user: EndUser) -> dict[str, str]:
        """The end user's address and agent, vouched for by this service's credential (the
        auth server ignores them without it); none when there is no credential to send."""
        try:
            credential = self.service_token()
        except AuthServerError:
            return {}
        headers = {SERVICE_TOKEN_HEADER: credential, END_USER_IP_HEADER: end_user.ip_address}
        if end_user.user_agent:
            headers[END_USER_AGENT_HEADER] = end_user.user_agent
        return headers

    def _send(
        self, method: str, path: str, *, json: dict[str, Any] | None, headers: dict[str, str]
    ) -> requests.Response:
        url = f"{self.base_url}{path}"
        headers = {**headers, **_request_id_header()}
        attempts = 2 if method == "GET" else 1
        for attempt in range(attempts):
            try:
                # No redirects: a bearer token is only ever sent to the configured server.
                return self.session.request(
                    method, url, json=json, headers=headers, timeout=self.timeout,
                    allow_redirects=False,
                )  # fmt: skip
            except requests.ConnectionError as exc:
                # A GET is idempotent: retry once on a dropped (e.g. stale keep-alive)
                # connection. Never after a timeout: the server may simply be slow.
                if attempt + 1 < attempts and not isinstance(exc, requests.Timeout):
                    continue
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_after(self, response: requests.Response | None) -> float:
        server_value = _server_retry_after(response) if response is not None else None
        return server_value or self.breaker.retry_after() or 1.0

    @staticmethod
    def _data(response: requests.Response, enveloped: bool) -> dict[str, Any]:
        body = _envelope(response)
        code_status = response.status_code
        if 200 <= code_status < 300 and body:
            if not enveloped:
                return body
            data = body.get("data")
            if body.get("success") is True and isinstance(data, dict):
                return data
        code = str(body.get("code") or "")
        message = str(body.get("message") or "")
        errors = body.get("errors")
        if code_status == 404 and (not code or code == "not_found"):
            # Not the server's "this thing is missing" but an unknown route: a deployment error.
            logger.error("Unexpected auth server answer: HTTP 404")
            raise AuthServerError("Unexpected answer from the authentication service (HTTP 404)")
        if code_status == 409:
            conflict = EmailAlreadyExists if code == "email_exists" else Conflict
            raise conflict(code_status, code, message)
        if code_status in (400, 401, 403, 404, 429):
            # 401: "Invalid email or password", "Invalid or expired token"; 400: field errors
            # stay field errors ({"password": ["..."]}); 404: organization_not_found, ...
            raise AuthServerRejected(
                code_status,
                code,
                message,
                field_errors=errors if isinstance(errors, dict) else None,
                retry_after=_server_retry_after(response) if code_status == 429 else None,
            )
        logger.error("Unexpected auth server answer: HTTP %s", code_status)
        raise AuthServerError(
            f"Unexpected answer from the authentication service (HTTP {code_status})"
        )


_client_lock = threading.Lock()
_client: AuthServerClient | None = None


def get_auth_client() -> AuthServerClient:
    """The process's one shared client (one connection pool, one circuit breaker)."""
    global _client
    client = _client
    if client is None:
        with _client_lock:
            if _client is None:
                _client = AuthServerClient()
            client = _client
    return client


def reset_auth_client() -> None:
    """Drop the shared client; the next get_auth_client() reads the settings again."""
    global _client
    with _client_lock:
        old, _client = _client, None
    if old is not None:
        old.close()
