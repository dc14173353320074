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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from auth_server.config import Settings

logger = logging.getLogger("auth_server.keys")

ALGORITHM = "RS256"
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
    `rotate-keys` takes effect in running servers without a restart; a retired key stays
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
        self._lock = threading.Lock()
        if keys_dir is not None:
            self._reload_if_changed()

    @property
    def signer(self) -> rsa.RSAPrivateKey:
        return self._current().signer

    @property
    def signer_kid(self) -> str:
        return self._current().signer_kid

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
            previous = [_load_public(block.encode()) for block in _pem_blocks(settings)]
            return cls(signer, previous)
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
    return _key_set(signer, previous, retired)


def _file_time(path: Path) -> datetime | None:
    """Key files are named by their creation time in nanoseconds (see write_key_file)."""
    try:
        return datetime.fromtimestamp(int(path.stem) / 1e9, UTC)
    except ValueError:
        return None


def _pem_blocks(settings: Settings) -> list[str]:
    return _PEM_BLOCK.findall(settings.jwt_previous_public_keys.replace("\\n", "\n"))


def _load_private(pem: bytes) -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(pem.replace(b"\\n", b"\n"), password=None)
    # Only RSA keys: the algorithm is pinned to RS256 on both sides.
    if not isinstance(key, rsa.RSAPrivateKey):
        raise ValueError("JWT_PRIVATE_KEY must be an RSA private key")
    return key


def _load_public(pem: bytes) -> rsa.RSAPublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("JWT_PREVIOUS_PUBLIC_KEYS must hold RSA public keys")
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
    # Set when the keys come from JWT_PRIVATE_KEY: what the operator must deploy.
    new_private_pem: str | None = None
    old_public_pem: str | None = None


def rotate_keys(settings: Settings) -> Rotation:
    """Make a new key the signer; the old one keeps verifying until its tokens expire.

    Development key files: a new file is written and running servers pick it up. With
    JWT_PRIVATE_KEY the new key and the old public key are returned for the operator to
    set as JWT_PRIVATE_KEY and to append to JWT_PREVIOUS_PUBLIC_KEYS on every replica.
    """
    pem = settings.jwt_private_key.get_secret_value().strip()
    if pem:
        old = _load_private(pem.encode())
        new_pem = generate_private_key_pem()
        new = _load_private(new_pem)
        old_public = old.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        return Rotation(
            old_kid=key_id(old.public_key()),
            new_kid=key_id(new.public_key()),
            new_private_pem=new_pem.decode(),
            old_public_pem=old_public.decode(),
        )
    files = ensure_development_key(settings.keys_dir)
    old_kid = key_id(_load_private(files[-1].read_bytes()).public_key())
    new_file = write_key_file(settings.keys_dir)
    new_kid = key_id(_load_private(new_file.read_bytes()).public_key())
    return Rotation(old_kid=old_kid, new_kid=new_kid)
