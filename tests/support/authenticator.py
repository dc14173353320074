"""A software WebAuthn authenticator for API tests: real P-256 keys, real signatures, "none"
attestation, WebAuthn's JSON forms in and out. It answers for whatever origin it is told,
so a test can also sign for the wrong one. (The browser tests use Chromium's own virtual
authenticator instead.)"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from dataclasses import dataclass
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

USER_PRESENT, USER_VERIFIED, BACKUP_ELIGIBLE, BACKED_UP, ATTESTED = 0x01, 0x04, 0x08, 0x10, 0x40


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass
class StoredCredential:
    key: ec.EllipticCurvePrivateKey
    user_handle: bytes
    sign_count: int


class SoftAuthenticator:
    def __init__(self, origin: str, *, synced: bool = False) -> None:
        self.origin = origin
        # A synced passkey (backup eligible and backed up) or one bound to this "device".
        self.backup_flags = BACKUP_ELIGIBLE | BACKED_UP if synced else 0
        self.credentials: dict[str, StoredCredential] = {}

    def _auth_data(self, rp_id: str, flags: int, sign_count: int, attested: bytes = b"") -> bytes:
        rp_hash = hashlib.sha256(rp_id.encode()).digest()
        return (
            rp_hash + bytes([flags | self.backup_flags]) + struct.pack(">I", sign_count) + attested
        )

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        data = {"type": kind, "challenge": challenge, "origin": origin or self.origin}
        return json.dumps(data).encode()

    def create(self, options: dict[str, Any], *, origin: str | None = None) -> dict[str, Any]:
        """navigator.credentials.create() for `options` (the register/options answer)."""
        key = ec.generate_private_key(ec.SECP256R1())
        credential_id = secrets.token_bytes(32)
        numbers = key.public_key().public_numbers()
        cose_key = cbor2.dumps(
            {
                1: 2,
                3: -7,
                -1: 1,
                -2: numbers.x.to_bytes(32, "big"),
                -3: numbers.y.to_bytes(32, "big"),
            }
        )
        attested = bytes(16) + struct.pack(">H", len(credential_id)) + credential_id + cose_key
        flags = USER_PRESENT | USER_VERIFIED | ATTESTED
        auth_data = self._auth_data(options["rp"]["id"], flags, 0, attested)
        self.credentials[b64url(credential_id)] = StoredCredential(
            key, unb64url(options["user"]["id"]), 0
        )
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(credential_id),
            "rawId": b64url(credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["internal"],
            },
        }

    def get(
        self,
        options: dict[str, Any],
        credential_id: str | None = None,
        *,
        origin: str | None = None,
        rp_id: str | None = None,
    ) -> dict[str, Any]:
        """navigator.credentials.get(): signs with `credential_id`, or the newest one held."""
        credential_id = credential_id or list(self.credentials)[-1]
        stored = self.credentials[credential_id]
        stored.sign_count += 1
        auth_data = self._auth_data(
            rp_id or options["rpId"], USER_PRESENT | USER_VERIFIED, stored.sign_count
        )
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signed = auth_data + hashlib.sha256(client_data).digest()
        return {
            "id": credential_id,
            "rawId": credential_id,
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "authenticatorData": b64url(auth_data),
                "signature": b64url(stored.key.sign(signed, ec.ECDSA(hashes.SHA256()))),
                "userHandle": b64url(stored.user_handle),
            },
        }
