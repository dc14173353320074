"""Signing keys: the current RSA signer and the public keys whose tokens may still be alive."""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from auth_server.config import ConfigurationError, Settings

logger = logging.getLogger("auth_server.keys")

ALGORITHM = "RS256"
# How often a server with development key files looks for a rotation: listing the folder on
# every signature and verification was a system call per token on the hot paths.
KEYS_RECHECK_SECONDS = 1.0
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


@dataclass(frozen=True)
class PublicKey:
    kid: str
    key: rsa.RSAPublicKey
    # When this key stopped signing (None: it signs, or its retirement is not known).
    retired_at: datetime | None = None

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint: the same key always gets the same `kid`, on every replica."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@dataclass(frozen=True)
class _KeySet:
    signer: rsa.RSAPrivateKey
    signer_kid: str
    public: dict[str, PublicKey]
    # When the signer was made (key files only; a configured JWT_PRIVATE_KEY does not say).
    signer_created: datetime | None = None


def _key_set(
    signer: rsa.RSAPrivateKey,
    previous: list[rsa.RSAPublicKey],
    retired: list[datetime | None] | None = None,
) -> _KeySet:
    signer_kid = key_id(signer.public_key())
    public = {signer_kid: PublicKey(signer_kid, signer.public_key())}
    for index, key in enumerate(previous):
        kid = key_id(key)
        public.setdefault(kid, PublicKey(kid, key, retired[index] if retired else None))
    return _KeySet(signer, signer_kid, public)


class KeyStore:
    """The signer and every verifying key, looked up by `kid`.

    With development key files the store re-reads DATA_DIR/keys when its files change, so
    `rotate-keys` takes effect in running servers within a second, without a restart (the
    folder is listed at most once per KEYS_RECHECK_SECONDS); a retired key stays
    published for `verify_grace_seconds` after it stopped signing (the lifetime of the
    last token it signed), then disappears from the JWKS and stops verifying.
    """

    def __init__(
        self,
        signer: rsa.RSAPrivateKey,
        previous: list[rsa.RSAPublicKey],
        *,
        clock: Callable[[], datetime] | None = None,
        verify_grace_seconds: int = 0,
        keys_dir: Path | None = None,
    ) -> None:
        self._keys = _key_set(signer, previous)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._grace = timedelta(seconds=verify_grace_seconds)
        self._keys_dir = keys_dir
        self._stamp: tuple[str, ...] | None = None
        self._next_check = 0.0
        self._lock = threading.Lock()
        if keys_dir is not None:
            self._reload_if_changed()

    @property
    def signer(self) -> rsa.RSAPrivateKey:
        return self._current().signer

    @property
    def signer_kid(self) -> str:
        return self._current().signer_kid

    @property
    def signer_created(self) -> datetime | None:
        return self._current().signer_created

    def public_key(self, kid: str) -> PublicKey | None:
        return next((k for k in self._published() if k.kid == kid), None)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self._published()]}

    def _published(self) -> list[PublicKey]:
        now = self._clock()
        # A retired key verifies only while a token it signed can still be alive.
        return [
            k
            for k in self._current().public.values()
            if k.retired_at is None or now < k.retired_at + self._grace
        ]

    def _current(self) -> _KeySet:
        if self._keys_dir is not None:
            self._reload_if_changed()
        return self._keys

    def _reload_if_changed(self) -> None:
        assert self._keys_dir is not None
        now = time.monotonic()
        if now < self._next_check:
            return
        self._next_check = now + KEYS_RECHECK_SECONDS
        try:
            # The file names, not the folder's mtime: coarse mtimes could hide a rotation.
            names = tuple(sorted(n for n in os.listdir(self._keys_dir) if n.endswith(".pem")))
        except OSError:
            return  # keep serving with the keys already loaded
        if names == self._stamp:
            return
        with self._lock:
            if names == self._stamp:
                return
            files = [self._keys_dir / name for name in names]
            try:
                if files:
                    self._keys = _load_key_files(files)
            except (OSError, ValueError):
                # Keep signing with the keys we have; the next change is tried again.
                logger.exception("Could not reload the signing keys from %s", self._keys_dir)
                return
            self._stamp = names

    @classmethod
    def from_settings(
        cls, settings: Settings, clock: Callable[[], datetime] | None = None
    ) -> KeyStore:
        pem = settings.jwt_private_key.get_secret_value().strip()
        if pem:
            signer = _load_private(pem.encode())
            # Retired keys verify until their tokens expire; staged ones before they sign.
            verifying = _public_keys(settings.jwt_previous_public_keys)
            return cls(signer, verifying + _public_keys(settings.jwt_next_public_keys))
        files = ensure_development_key(settings.keys_dir)
        keys = _load_key_files(files)
        store = cls(
            keys.signer,
            [],
            clock=clock,
            # A minute on top of the token lifetime absorbs clock skew between machines.
            verify_grace_seconds=settings.access_token_ttl + 60,
            keys_dir=settings.keys_dir,
        )
        return store


def _load_key_files(files: list[Path]) -> _KeySet:
    """The last file signs; each older one retired when the next one was written."""
    signer = _load_private(files[-1].read_bytes())
    previous = [_load_private(f.read_bytes()).public_key() for f in files[:-1]]
    retired = [_file_time(f) for f in files[1:]]
    keys = _key_set(signer, previous, retired)
    return replace(keys, signer_created=_file_time(files[-1]))


def _file_time(path: Path) -> datetime | None:
    """Key files are named by their creation time in nanoseconds (see write_key_file)."""
    try:
        return datetime.fromtimestamp(int(path.stem) / 1e9, UTC)
    except ValueError:
        return None


def _public_keys(pems: str) -> list[rsa.RSAPublicKey]:
    """The RSA public keys of a setting holding PEM blocks (newlines may be written \\n)."""
    blocks: list[str] = _PEM_BLOCK.findall(pems.replace("\\n", "\n"))
    return [_load_public(block.encode()) for block in blocks]


def _load_private(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.replace(b"\\n", b"\n"), password=None)
    # Only RSA keys: the algorithm is pinned to RS256 on both sides.
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("JWT_PRIVATE_KEY must be an RSA private key")
    return key


def _load_public(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("JWT_PREVIOUS_PUBLIC_KEYS and JWT_NEXT_PUBLIC_KEYS hold RSA public keys")
    return key


def generate_private_key_pem() -> bytes:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def write_key_file(keys_dir: Path) -> Path:
    """Write a new signer; file names sort by creation time, the last one signs."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    path = keys_dir / f"{time.time_ns():020d}.pem"
    partial = path.with_suffix(".tmp")
    # 0600: the private key is readable by the server's user only.
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate_private_key_pem())
        handle.flush()
        os.fsync(handle.fileno())
    # Atomic: a running server reloading the folder never sees a half-written key.
    os.rename(partial, path)
    return path


def ensure_development_key(keys_dir: Path) -> list[Path]:
    """The key files in signing order, generating the first on the embedded default."""
    files = sorted(keys_dir.glob("*.pem")) if keys_dir.is_dir() else []
    if not files:
        files = [write_key_file(keys_dir)]
    return files


@dataclass(frozen=True)
class Rotation:
    old_kid: str
    new_kid: str
    # With JWT_PRIVATE_KEY: the old public key, for the operator to keep verifying.
    old_public_pem: str | None = None


@dataclass(frozen=True)
class StagedKey:
    """A new key pair to publish (its public half) before any replica signs with it."""

    kid: str
    private_pem: str
    public_pem: str


class UnstagedKey(ConfigurationError):
    """`rotate-keys --activate` was given a key that the replicas do not publish yet."""


def _public_pem(key: rsa.RSAPublicKey) -> str:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


def _configured_signer(settings: Settings) -> rsa.RSAPrivateKey | None:
    pem = settings.jwt_private_key.get_secret_value().strip()
    return _load_private(pem.encode()) if pem else None


def rotate_keys(settings: Settings) -> Rotation:
    """Development key files: a new file signs at once; the old key verifies until its
    tokens expire. Every replica reads the one folder, so none can refuse the new key.

    With JWT_PRIVATE_KEY replicas are deployed one by one: a replica that signs with a key
    the others do not publish yet gets its tokens refused there (and verifiers cache the
    refusal). So there the rotation is two steps, `stage_key` then `activate_key`.
    """
    if _configured_signer(settings) is not None:
        raise ConfigurationError(
            "keys come from JWT_PRIVATE_KEY: rotate in two steps, "
            "`rotate-keys --stage` (publish) then `rotate-keys --activate FILE` (sign)"
        )
    files = ensure_development_key(settings.keys_dir)
    old_kid = key_id(_load_private(files[-1].read_bytes()).public_key())
    new_file = write_key_file(settings.keys_dir)
    new_kid = key_id(_load_private(new_file.read_bytes()).public_key())
    return Rotation(old_kid=old_kid, new_kid=new_kid)


def stage_key(settings: Settings) -> StagedKey:
    """Step 1 with JWT_PRIVATE_KEY: a new key pair; its public key goes into
    JWT_NEXT_PUBLIC_KEYS on every replica, so it is published before it signs."""
    if _configured_signer(settings) is None:
        raise ConfigurationError(
            "--stage is for keys from JWT_PRIVATE_KEY; development key files rotate in "
            "place with `rotate-keys`"
        )
    private_pem = generate_private_key_pem()
    public = _load_private(private_pem).public_key()
    return StagedKey(key_id(public), private_pem.decode(), _public_pem(public))


def activate_key(settings: Settings, private_pem: bytes) -> Rotation:
    """Step 2: checks that the staged key is published here (JWT_NEXT_PUBLIC_KEYS) and
    returns the old public key, which verifies the old tokens once the new key signs."""
    old = _configured_signer(settings)
    if old is None:
        raise ConfigurationError("--activate is for keys from JWT_PRIVATE_KEY")
    try:
        new_kid = key_id(_load_private(private_pem).public_key())
    except ValueError as exc:
        raise ConfigurationError(f"not an RSA private key in PEM: {exc}") from None
    staged = {key_id(key) for key in _public_keys(settings.jwt_next_public_keys)}
    # Refused unless published: activating an unstaged key is the outage staging prevents.
    if new_kid not in staged:
        raise UnstagedKey(
            f"key {new_kid} is not in JWT_NEXT_PUBLIC_KEYS: stage it first "
            "(`rotate-keys --stage`) and roll that out to every replica"
        )
    return Rotation(
        old_kid=key_id(old.public_key()),
        new_kid=new_kid,
        old_public_pem=_public_pem(old.public_key()),
    )
