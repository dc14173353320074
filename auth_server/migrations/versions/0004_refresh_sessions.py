"""refresh tokens in the session row; credentials version

The session row keeps the refresh-token family (family secret hash, current and previous
token hash, rotation time, generation) instead of one `refresh_tokens` row per refresh.
`refresh_tokens` stays, read only: tokens issued before this revision keep working until
they are rotated (once, into the new scheme) or their session ends; `purge` empties it
with their sessions. A later revision may drop it once REFRESH_TOKEN_TTL has passed.
`users.credentials_version` and `sessions.credentials_version`: a login racing a password
reset (or change, disable, logout-all) cannot leave a live session.

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
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
        )
        batch_op.add_column(sa.Column("family_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refresh_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("previous_refresh_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(
            sa.Column("rotated_at", auth_server.models.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(
            sa.Column("generation", sa.Integer(), server_default="0", nullable=False)
        )
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("credentials_version", sa.Integer(), server_default="0", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("credentials_version")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("generation")
        batch_op.drop_column("rotated_at")
        batch_op.drop_column("previous_refresh_hash")
        batch_op.drop_column("refresh_hash")
        batch_op.drop_column("family_hash")
        batch_op.drop_column("credentials_version")
