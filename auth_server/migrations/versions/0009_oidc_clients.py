"""OpenID Connect provider: clients, authorization codes, consents, grants; a session's
parent (the browser session an OpenID Connect code grant was made from)

Revision ID: 0009_oidc_clients
Revises: 0008_browser_sessions
Create Date: 2026-11-29 19:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import auth_server.models

revision: str = "0009_oidc_clients"
down_revision: str | None = "0008_browser_sessions"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UTC = auth_server.models.UTCDateTime


def upgrade() -> None:
    op.create_table(
        "oidc_clients",
        sa.Column("client_id", sa.String(length=64), primary_key=True),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column("redirect_uris", sa.JSON(), nullable=False),
        sa.Column("post_logout_redirect_uris", sa.JSON(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("first_party", sa.Boolean(), nullable=False),
        sa.Column("allowed_scopes", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("secret_rotated_at", UTC(), nullable=True),
    )
    op.create_table(
        "oidc_authorization_codes",
        sa.Column("code_hash", sa.String(length=64), primary_key=True),
        sa.Column(
            "client_id",
            sa.String(length=64),
            sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("browser_session_id", sa.Uuid(), nullable=False),
        sa.Column("redirect_uri", sa.String(length=2000), nullable=False),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("nonce", sa.String(length=255), nullable=True),
        sa.Column("code_challenge", sa.String(length=128), nullable=True),
        sa.Column("code_challenge_method", sa.String(length=10), nullable=True),
        sa.Column("auth_time", UTC(), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
        sa.Column("expires_at", UTC(), nullable=False, index=True),
        sa.Column("used_at", UTC(), nullable=True),
        sa.Column("session_id", sa.Uuid(), nullable=True),
    )
    op.create_table(
        "oidc_consents",
        sa.Column(
            "user_id", sa.Uuid(), sa.ForeignKey("users.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column(
            "client_id",
            sa.String(length=64),
            sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("created_at", UTC(), nullable=False),
    )
    op.create_table(
        "oidc_grants",
        sa.Column(
            "session_id",
            sa.Uuid(),
            sa.ForeignKey("sessions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column(
            "client_id",
            sa.String(length=64),
            sa.ForeignKey("oidc_clients.client_id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        ),
        sa.Column("scope", sa.String(length=200), nullable=False),
        sa.Column("auth_time", UTC(), nullable=False),
        sa.Column("amr", sa.JSON(), nullable=False),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("parent_id", sa.Uuid(), nullable=True))
        batch_op.create_index("ix_sessions_parent_id", ["parent_id"])
        batch_op.create_foreign_key(
            "fk_sessions_parent_id", "sessions", ["parent_id"], ["id"], ondelete="SET NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_constraint("fk_sessions_parent_id", type_="foreignkey")
        batch_op.drop_index("ix_sessions_parent_id")
        batch_op.drop_column("parent_id")
    op.drop_table("oidc_grants")
    op.drop_table("oidc_consents")
    op.drop_table("oidc_authorization_codes")
    op.drop_table("oidc_clients")
