"""Recovery codes: ten single-use codes, shown once, stored only as SHA-256 hashes."""

from __future__ import annotations

import re
import secrets
import uuid
from datetime import datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from auth_server.models import RecoveryCode
from auth_server.tokens import hash_opaque_token

COUNT = 10
# 32 symbols without look-alikes (no 0/O, 1/I): 5 bits each, 16 of them = 80 bits, far too
# many to brute-force even from a stolen hash, so a fast hash is enough.
_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_LENGTH = 16
_GROUP = 4


def new_code() -> str:
    raw = "".join(secrets.choice(_ALPHABET) for _ in range(_LENGTH))
    return "-".join(raw[i : i + _GROUP] for i in range(0, _LENGTH, _GROUP))


def code_hash(code: str) -> str:
    """The hash of a code as typed: case, spaces and dashes do not matter."""
    return hash_opaque_token(re.sub(r"[^A-Z0-9]", "", code.upper()))


class RecoveryCodes:
    def replace(self, db: Session, user_id: uuid.UUID, now: datetime) -> list[str]:
        """A new set of codes; every older one stops working. Not committed."""
        self.remove(db, user_id)
        codes = [new_code() for _ in range(COUNT)]
        db.add_all(
            RecoveryCode(id=uuid.uuid4(), user_id=user_id, code_hash=code_hash(c), created_at=now)
            for c in codes
        )
        return codes

    def remove(self, db: Session, user_id: uuid.UUID) -> None:
        db.execute(delete(RecoveryCode).where(RecoveryCode.user_id == user_id))

    def use(self, db: Session, user_id: uuid.UUID, code: str, now: datetime) -> bool:
        """Spends the code if it is one of the user's unused ones. Compare-and-set: of two
        concurrent uses exactly one succeeds. Not committed."""
        # Found by its hash in SQL: timing can tell nothing useful about an 80-bit code.
        spent = db.execute(
            update(RecoveryCode)
            .where(
                RecoveryCode.user_id == user_id,
                RecoveryCode.code_hash == code_hash(code),
                RecoveryCode.used_at.is_(None),
            )
            .values(used_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(spent.rowcount == 1)  # type: ignore[attr-defined]

    def remaining(self, db: Session, user_id: uuid.UUID) -> int:
        return (
            db.scalar(
                select(func.count())
                .select_from(RecoveryCode)
                .where(RecoveryCode.user_id == user_id, RecoveryCode.used_at.is_(None))
            )
            or 0
        )
