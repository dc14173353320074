"""Signing keys: the current RSA signer and the public keys whose tokens may still be alive."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from auth_server.config import Settings

ALGORITHM = "RS256"
_PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]+-----.+?-----END [A-Z ]+-----", re.DOTALL)


@dataclass(frozen=True)
class PublicKey:
    kid: str
    key: rsa.RSAPublicKey

    def jwk(self) -> dict[str, Any]:
        jwk: dict[str, Any] = RSAAlgorithm.to_jwk(self.key, as_dict=True)
        return {**jwk, "kid": self.kid, "use": "sig", "alg": ALGORITHM}


def key_id(public_key: rsa.RSAPublicKey) -> str:
    """RFC 7638 thumbprint: the same key always gets the same `kid`, on every replica."""
    jwk = RSAAlgorithm.to_jwk(public_key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("e", "kty", "n")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


class KeyStore:
    """The signer and every verifying key, looked up by `kid`."""

    def __init__(self, signer: rsa.RSAPrivateKey, previous: list[rsa.RSAPublicKey]) -> None:
        self.signer = signer
        self.signer_kid = key_id(signer.public_key())
        keys = [signer.public_key(), *previous]
        self._public = {key_id(k): PublicKey(key_id(k), k) for k in keys}

    def public_key(self, kid: str) -> PublicKey | None:
        return self._public.get(kid)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.jwk() for k in self._public.values()]}

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyStore:
        pem = settings.jwt_private_key.get_secret_value().strip()
        if pem:
            signer = _load_private(pem.encode())
            previous = [_load_public(block.encode()) for block in _pem_blocks(settings)]
            return cls(signer, previous)
        files = ensure_development_key(settings.keys_dir)
        signer = _load_private(files[-1].read_bytes())
        # Older files are retired signers kept so their live tokens still verify.
        previous = [_load_private(f.read_bytes()).public_key() for f in files[:-1]]
        return cls(signer, previous)


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
    # 0600: the private key is readable by the server's user only.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as handle:
        handle.write(generate_private_key_pem())
    return path


def ensure_development_key(keys_dir: Path) -> list[Path]:
    """The key files in signing order, generating the first on the embedded default."""
    files = sorted(keys_dir.glob("*.pem")) if keys_dir.is_dir() else []
    if not files:
        files = [write_key_file(keys_dir)]
    return files
