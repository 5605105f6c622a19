"""Console: server-side sessions, login attempts, TOTP secrets, exemption requests.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            nullable=True,
        ),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_console_sessions_user_id", "console_sessions", ["user_id"])
    op.create_table(
        "console_login_attempts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("username", sa.String(255), nullable=False),
        sa.Column("address", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
    )
    op.create_index(
        "ix_console_login_attempts_username_at", "console_login_attempts", ["username", "at"]
    )
    op.create_index(
        "ix_console_login_attempts_address_at", "console_login_attempts", ["address", "at"]
    )
    op.create_table(
        "user_totp",
        sa.Column(
            "user_id",
            sa.Integer(),
            sa.ForeignKey("users.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("enabled_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_step", sa.Integer(), nullable=False),
    )
    op.create_table(
        "exemption_requests",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipient_domain", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("requested_by", sa.String(255), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(255), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text(), nullable=True),
        sa.Column(
            "exemption_id",
            sa.Integer(),
            sa.ForeignKey("exemptions.id", ondelete="SET NULL"),
            nullable=True,
        ),
    )
    op.create_index("ix_exemption_requests_state", "exemption_requests", ["state"])


def downgrade() -> None:
    op.drop_index("ix_exemption_requests_state", table_name="exemption_requests")
    op.drop_table("exemption_requests")
    op.drop_table("user_totp")
    op.drop_index("ix_console_login_attempts_address_at", table_name="console_login_attempts")
    op.drop_index("ix_console_login_attempts_username_at", table_name="console_login_attempts")
    op.drop_table("console_login_attempts")
    op.drop_index("ix_console_sessions_user_id", table_name="console_sessions")
    op.drop_table("console_sessions")
