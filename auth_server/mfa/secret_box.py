"""TOTP secrets encrypted at rest (Fernet: AES-128-CBC with HMAC-SHA256, from `cryptography`)."""

from __future__ import annotations

import base64
import hashlib
import logging

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from auth_server.config import ConfigurationError, Settings
from auth_server.service_auth import development_secret

logger = logging.getLogger("auth_server.mfa")


class SecretBox:
    """Encrypts with the first MFA_ENCRYPTION_KEY, decrypts with any (key rotation)."""

    def __init__(self, keys: list[str]) -> None:
        try:
            self._fernet = MultiFernet([Fernet(key) for key in keys])
        except ValueError as exc:
            # Refuse to start rather than fail at the first enrolment.
            raise ConfigurationError(
                "MFA_ENCRYPTION_KEY: each key must be a Fernet key "
                "(python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())')"
            ) from exc

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        keys = settings.mfa_encryption_keys
        if keys:
            return cls(keys)
        # Only reached outside production (check_production_ready refuses it there): a
        # Fernet key derived from a random secret generated once into DATA_DIR.
        seed = development_secret(settings.mfa_key_file)
        logger.info(
            "MFA_ENCRYPTION_KEY unset: using the development key in %s", settings.mfa_key_file
        )
        return cls([base64.urlsafe_b64encode(hashlib.sha256(seed.encode()).digest()).decode()])

    def encrypt(self, plaintext: str) -> str:
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, ciphertext: str) -> str:
        """The secret; ConfigurationError when no configured key opens it (a key was
        removed too early): a server fault, never the user's."""
        try:
            return self._fernet.decrypt(ciphertext.encode()).decode()
        except InvalidToken as exc:
            raise ConfigurationError("a TOTP secret no MFA_ENCRYPTION_KEY decrypts") from exc
