"""Password hashing (argon2id) and the password policy."""

from __future__ import annotations

import gzip
import secrets
from functools import lru_cache
from importlib import resources

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

MIN_LENGTH = 10
MAX_LENGTH = 256


class Passwords:
    """Hashes and verifies secrets with argon2id at the configured cost."""

    def __init__(self, time_cost: int, memory_kib: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        # Verified against when the e-mail is unknown, so both answers take the same time.
        self._dummy_hash = self._hasher.hash(secrets.token_urlsafe(16))

    def hash(self, secret: str) -> str:
        return self._hasher.hash(secret)

    def verify(self, stored_hash: str | None, secret: str) -> bool:
        """Constant-work check: an absent hash still costs one full verification."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, secret) and bool(
                stored_hash
            )
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    """Django's list of 20,000 common passwords, shipped with the django package."""
    path = resources.files("django.contrib.auth") / "common-passwords.txt.gz"
    with path.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as lines:
        return frozenset(line.strip().lower() for line in lines if line.strip())


def password_problems(password: str, email: str) -> list[str]:
    """What makes this password unacceptable, as messages for the field; empty when fine."""
    problems = []
    if len(password) < MIN_LENGTH:
        problems.append(f"Must be at least {MIN_LENGTH} characters")
    if len(password) > MAX_LENGTH:
        problems.append(f"Must be at most {MAX_LENGTH} characters")
    lowered = password.strip().lower()
    email = email.strip().lower()
    if email and lowered in {email, email.split("@", 1)[0]}:
        problems.append("Must not be your email address")
    if lowered in common_passwords():
        problems.append("This password is too common")
    return problems
