"""login attempts counted in the database: login_locks.failures and window_ends

The failed-login count moves from the rate-limit store into the lock's row, so that an
attempt is reserved atomically before its password is checked (see ratelimit.Lockout).
Existing rows keep their lock; their count starts at zero.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import auth_server.models

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("login_locks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("failures", sa.Integer(), server_default="0", nullable=False))
        batch_op.add_column(
            sa.Column("window_ends", auth_server.models.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("login_locks", schema=None) as batch_op:
        batch_op.drop_column("window_ends")
        batch_op.drop_column("failures")
