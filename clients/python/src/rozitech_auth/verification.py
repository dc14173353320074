"""Verification modes behind one protocol, and the per-process state they share.

A mode is a `Verifier` factory in `VERIFIERS` (`register_verifier` adds one): `remote` asks
the auth server, `local` checks the signature against the JWKS, `hybrid` is `local` composed
with the revocation feed, with `remote` as its fallback while the feed is stale
(`Verification.effective_mode`). The framework adapters (rozitech_auth.django,
rozitech_auth.fastapi) add caching and their own user objects on top; nothing here imports a
web framework.
"""

from __future__ import annotations

import copy
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from rozitech_auth import tokens
from rozitech_auth.client import get_auth_client
from rozitech_auth.conf import client_settings
from rozitech_auth.discovery import Issuer
from rozitech_auth.errors import AuthServerUnavailable, TokenInvalid
from rozitech_auth.revocations import RevocationFeed
from rozitech_auth.tokens import LocalVerifier, RemoteVerifier, VerifiedToken, issuer_from_settings

T = TypeVar("T")
E = TypeVar("E")


class Verifier(Protocol):
    """Turns an access token into a VerifiedToken, or raises a TokenError (refused) or
    AuthServerUnavailable (cannot tell now)."""

    @property
    def mode(self) -> str: ...

    def verify(self, token: str) -> VerifiedToken: ...


VerifierFactory = Callable[["Verification[Any]"], Verifier]


def _remote(state: Verification[Any]) -> Verifier:
    return RemoteVerifier(get_auth_client())


def _local(state: Verification[Any]) -> Verifier:
    return LocalVerifier.from_settings(get_auth_client(), client_settings(), state.token_issuer())


def _hybrid(state: Verification[Any]) -> Verifier:
    # Local verification composed with the feed's revocation set (remote: effective_mode).
    return LocalVerifier.from_settings(
        get_auth_client(),
        client_settings(),
        state.token_issuer(),
        revocations=state.revocation_feed(),
        mode="hybrid",
    )


def bearer_token(header: bytes, keyword: str = "Bearer") -> str | None:
    """The token of an `Authorization: Bearer <token>` header; None for another scheme (or
    none); TokenInvalid (`bad_header`) for a malformed one."""
    parts = header.split()
    if not parts or parts[0].lower() != keyword.lower().encode():
        return None
    if len(parts) == 1:
        raise TokenInvalid("Invalid Authorization header: no token", "bad_header")
    if len(parts) > 2:
        raise TokenInvalid("Invalid Authorization header: spaces", "bad_header")
    # Bounded before hashing or forwarding it anywhere.
    if len(parts[1]) > client_settings().max_token_bytes:
        raise TokenInvalid()
    try:
        # A JWT is ASCII; anything else is not a token and must not reach a header.
        return parts[1].decode("ascii")
    except UnicodeDecodeError:
        raise TokenInvalid() from None


VERIFIERS: dict[str, VerifierFactory] = {"remote": _remote, "local": _local, "hybrid": _hybrid}


def register_verifier(mode: str, factory: VerifierFactory) -> None:
    """Adds (or replaces) a verification mode; AUTH_VERIFY_MODE may then name it."""
    VERIFIERS[mode] = factory


class ProcessStore(Generic[E]):
    """Entries in process memory until their TTL, bounded (LRU): verified claims until `exp`."""

    def __init__(self, max_entries: int = 10_000) -> None:
        self.max_entries = max_entries
        self._lock = threading.Lock()
        self._entries: OrderedDict[str, tuple[float, E]] = OrderedDict()

    def get(self, key: str) -> E | None:
        with self._lock:
            found = self._entries.get(key)
            if found is None:
                return None
            if found[0] <= tokens.now():
                del self._entries[key]
                return None
            self._entries.move_to_end(key)
            return found[1]

    def set(self, key: str, entry: E, ttl: float) -> None:
        with self._lock:
            self._entries[key] = (tokens.now() + ttl, entry)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def delete(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)


class SingleFlight:
    """Concurrent calls for one key run the function once; the others wait for its result."""

    class _Call:
        def __init__(self) -> None:
            self.done = threading.Event()
            self.result: Any = None
            self.error: BaseException | None = None

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[str, SingleFlight._Call] = {}

    def do(self, key: str, fn: Callable[[], T], wait_timeout: float) -> T:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = SingleFlight._Call()
        if leader:
            try:
                call.result = fn()
            except BaseException as exc:
                call.error = exc
                raise
            finally:
                with self._lock:
                    del self._calls[key]
                call.done.set()
            return call.result  # type: ignore[no-any-return]
        if not call.done.wait(wait_timeout):
            raise AuthServerUnavailable()
        if call.error is not None:
            # A copy each: one exception object must not be raised in several threads.
            raise copy.copy(call.error)
        return call.result  # type: ignore[no-any-return]


class Verification(Generic[E]):
    """Per-process state: one verifier per mode, the issuer, the revocation feed, the
    process cache (entries of type E) and single-flight; rebuilt when settings change."""

    def __init__(self, on_event: Callable[[Mapping[str, Any]], None] | None = None) -> None:
        # Hybrid mode's feed hands it every revocation event it applies (RevocationFeed).
        self.on_event = on_event
        self.lock = threading.RLock()
        self.verifiers: dict[str, Verifier] = {}
        self.process_store: ProcessStore[E] = ProcessStore()
        self.flights = SingleFlight()
        self.feed: RevocationFeed | None = None
        self.issuer: Issuer | None = None

    def token_issuer(self) -> Issuer:
        """The issuer local verification requires (configured or discovered)."""
        with self.lock:
            if self.issuer is None:
                self.issuer = issuer_from_settings(get_auth_client(), client_settings())
            return self.issuer

    def revocation_feed(self) -> RevocationFeed:
        """Hybrid mode's revocation set; its thread starts on first use in each process."""
        if self.feed is not None:
            return self.feed  # set once: no lock on every request
        with self.lock:
            if self.feed is None:
                self.feed = RevocationFeed(client_settings(), on_event=self.on_event)
            return self.feed

    def effective_mode(self, mode: str) -> str:
        """`mode`, except hybrid while its revocation set may miss a revocation: not
        confirmed by the feed within AUTH_REVOCATION_MAX_STALENESS (or not backfilled yet,
        waited for up to the read timeout on start); the auth server decides then (remote,
        503 when it is down)."""
        if mode == "hybrid" and not self.revocation_feed().fresh(wait=client_settings().timeout):
            return "remote"
        return mode

    def verifier(self, mode: str) -> Verifier:
        found = self.verifiers.get(mode)
        if found is None:
            with self.lock:
                found = self.verifiers.get(mode)
                if found is None:
                    found = self.verifiers[mode] = VERIFIERS[mode](self)
        return found

    def close(self) -> None:
        """Stops the feed's thread (settings changed, the app shuts down, a test reset)."""
        if self.feed is not None:
            self.feed.stop()
