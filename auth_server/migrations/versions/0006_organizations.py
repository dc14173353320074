"""organizations: invitations, the session's active organization, a membership's last
activity, license seats, and membership/license events in the revocation feed

revocation_events: `kind` widens to hold "membership_changed", `user_id` becomes nullable
(a "licenses_changed" event names an organization, not a user) and `organization_id` is
added. On SQLite the table is rebuilt (batch mode): AUTOINCREMENT is kept, and so is the
id sequence's high-water mark, so ids are never reused after the rebuild either (a reader's
cursor past a purged newest id must not skip new events).

Revision ID: 0006_organizations
Revises: 0005
Create Date: 2026-11-29 19:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import auth_server.models

revision: str = "0006_organizations"
down_revision: str | None = "0005"  # the stored id of 0005_login_attempts_nfkc_emails
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("organization_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("role", sa.String(length=20), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", auth_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("expires_at", auth_server.models.UTCDateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", auth_server.models.UTCDateTime(timezone=True), nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("withdrawn_at", auth_server.models.UTCDateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_invitations_expires_at"), ["expires_at"])
        batch_op.create_index(batch_op.f("ix_invitations_organization_id"), ["organization_id"])
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "last_active_at", auth_server.models.UTCDateTime(timezone=True), nullable=True
            )
        )
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seats", sa.Integer(), nullable=True))
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("organization_id", sa.Uuid(), nullable=True))
    _widen_revocation_events()


def _widen_revocation_events() -> None:
    connection = op.get_bind()
    sqlite = connection.dialect.name == "sqlite"
    high_water = _sequence(connection) if sqlite else None
    with op.batch_alter_table(
        "revocation_events", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=10), type_=sa.String(length=20)
        )
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=True)
        batch_op.add_column(sa.Column("organization_id", sa.Uuid(), nullable=True))
    if high_water is not None:
        # The rebuilt table's sequence restarts at its highest remaining id; put it back.
        connection.execute(
            sa.text("UPDATE sqlite_sequence SET seq = max(seq, :seq) WHERE name = :name"),
            {"seq": high_water, "name": "revocation_events"},
        )
        connection.execute(
            sa.text(
                "INSERT INTO sqlite_sequence (name, seq) SELECT :name, :seq WHERE NOT EXISTS "
                "(SELECT 1 FROM sqlite_sequence WHERE name = :name)"
            ),
            {"seq": high_water, "name": "revocation_events"},
        )


def _sequence(connection: sa.Connection) -> int | None:
    row = connection.execute(
        sa.text("SELECT seq FROM sqlite_sequence WHERE name = 'revocation_events'")
    ).first()
    return int(row[0]) if row is not None else None


def downgrade() -> None:
    # membership_changed and licenses_changed events do not fit the old columns.
    op.execute(sa.text("DELETE FROM revocation_events WHERE user_id IS NULL OR length(kind) > 10"))
    with op.batch_alter_table(
        "revocation_events", schema=None, table_kwargs={"sqlite_autoincrement": True}
    ) as batch_op:
        batch_op.drop_column("organization_id")
        batch_op.alter_column("user_id", existing_type=sa.Uuid(), nullable=False)
        batch_op.alter_column(
            "kind", existing_type=sa.String(length=20), type_=sa.String(length=10)
        )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("organization_id")
    with op.batch_alter_table("licenses", schema=None) as batch_op:
        batch_op.drop_column("seats")
    with op.batch_alter_table("memberships", schema=None) as batch_op:
        batch_op.drop_column("last_active_at")
    with op.batch_alter_table("invitations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_invitations_organization_id"))
        batch_op.drop_index(batch_op.f("ix_invitations_expires_at"))
    op.drop_table("invitations")
