"""Pending WebAuthn ceremonies: the challenges handed to browsers, each good for one answer.

A challenge is 256 random bits; only its SHA-256 is stored. The answer's signed client data
echoes the challenge, which finds the row again: no ceremony id travels beside it, and an
answer can only ever spend the challenge it was signed over.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import ColumnElement, update
from sqlalchemy.orm import InstrumentedAttribute, Session
from webauthn import base64url_to_bytes
from webauthn.helpers import bytes_to_base64url, parse_client_data_json
from webauthn.helpers.exceptions import WebAuthnException

from auth_server.clock import Clock
from auth_server.errors import InvalidPasskeyChallenge, InvalidPasskeyResponse
from auth_server.passkeys.models import WebAuthnChallenge
from auth_server.tokens import hash_opaque_token, new_opaque_token

# Seconds a browser has to answer (also the `timeout` its options carry).
CEREMONY_SECONDS = 300


class Purpose(StrEnum):
    REGISTER = "register"
    LOGIN = "login"  # passwordless: anonymous until the answer names its passkey
    MFA = "mfa"  # the second factor of a pending login


class Ceremonies:
    def __init__(self, clock: Clock) -> None:
        self.clock = clock

    def begin(
        self,
        db: Session,
        purpose: Purpose,
        *,
        user_id: uuid.UUID | None = None,
        login_challenge_id: uuid.UUID | None = None,
    ) -> bytes:
        """A new challenge for `purpose`, committed; the bytes the options carry."""
        challenge = new_opaque_token()
        now = self.clock.now()
        db.add(
            WebAuthnChallenge(
                challenge_hash=hash_opaque_token(challenge),
                purpose=purpose,
                user_id=user_id,
                login_challenge_id=login_challenge_id,
                created_at=now,
                expires_at=now + timedelta(seconds=CEREMONY_SECONDS),
            )
        )
        db.commit()
        return base64url_to_bytes(challenge)

    def spend(
        self,
        db: Session,
        client_data_json: bytes,
        purpose: Purpose,
        *,
        user_id: uuid.UUID | None = None,
        login_challenge_id: uuid.UUID | None = None,
    ) -> bytes:
        """Marks the challenge the answer signed as used and commits, before the answer is
        verified: a failed or replayed answer burns it too. Returns the challenge.

        InvalidPasskeyChallenge when it is unknown, expired, used, of another purpose, or
        of another user or pending login."""
        try:
            challenge = parse_client_data_json(client_data_json).challenge
        except (WebAuthnException, ValueError, TypeError) as exc:  # bad base64 or JSON
            raise InvalidPasskeyResponse() from exc
        now = self.clock.now()
        # Compare-and-set on used_at: two racing answers cannot both spend it.
        spent = db.execute(
            update(WebAuthnChallenge)
            .where(
                WebAuthnChallenge.challenge_hash
                == hash_opaque_token(bytes_to_base64url(challenge)),
                WebAuthnChallenge.purpose == purpose,
                WebAuthnChallenge.used_at.is_(None),
                WebAuthnChallenge.expires_at > now,
                _matches(WebAuthnChallenge.user_id, user_id),
                _matches(WebAuthnChallenge.login_challenge_id, login_challenge_id),
            )
            .values(used_at=now)
        )
        db.commit()
        if spent.rowcount != 1:  # type: ignore[attr-defined]
            raise InvalidPasskeyChallenge()
        return challenge


def _matches(
    column: InstrumentedAttribute[uuid.UUID | None], value: uuid.UUID | None
) -> ColumnElement[bool]:
    return column.is_(None) if value is None else column == value
