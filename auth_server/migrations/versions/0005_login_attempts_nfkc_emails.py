"""login attempts counted in the database (login_locks.failures, window_ends); stored
e-mail addresses in their NFKC form

The failed-login count moves from the rate-limit store into the lock's row, so that an
attempt is reserved atomically before its password is checked (see ratelimit.Lockout).
Existing rows keep their lock; their count starts at zero.

E-mail addresses are now compared in their NFKC form (accounts.normalize_email): a stored
address in another form could no longer log in, so it is rewritten. Where two accounts
normalize to one address, neither is touched and a warning names them: an operator must
decide which account keeps the address (until then, the one already in NFKC form matches).

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-29 16:30:00
"""

import logging
import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import auth_server.models

logger = logging.getLogger("alembic.runtime.migration")

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def normalize_email(email: str) -> str:
    """A frozen copy of accounts.normalize_email as of this revision: the migration must
    keep applying this form even if the application's changes later."""
    return unicodedata.normalize("NFKC", email.strip()).lower()


def upgrade() -> None:
    with op.batch_alter_table("login_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("window_ends", auth_server.models.UTCDateTime(timezone=True), nullable=True)
        )
    _normalize_emails()


def _normalize_emails() -> None:
    users = sa.table("users", sa.column("id", sa.Uuid()), sa.column("email", sa.String()))
    connection = op.get_bind()
    rows = connection.execute(sa.select(users.c.id, users.c.email)).all()
    taken: dict[str, list[object]] = {}
    for row in rows:
        taken.setdefault(normalize_email(row.email), []).append(row.id)
    for row in rows:
        normalized = normalize_email(row.email)
        if normalized == row.email:
            continue
        if len(taken[normalized]) > 1:
            logger.warning(
                "users %s share the address %r once normalized; left unchanged",
                ", ".join(str(i) for i in taken[normalized]),
                normalized,
            )
            continue
        connection.execute(sa.update(users).where(users.c.id == row.id).values(email=normalized))


def downgrade() -> None:
    with op.batch_alter_table("login_locks", schema=None) as batch_op:
        batch_op.drop_column("window_ends")
        batch_op.drop_column("failures")
