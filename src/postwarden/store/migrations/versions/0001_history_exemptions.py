"""History of who writes to whom, display names seen, and sender exemptions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "history_contacts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("recipient_domain", sa.String(255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("sender", "recipient", name="uq_history_contacts_pair"),
    )
    op.create_index("ix_history_contacts_recipient", "history_contacts", ["recipient"])
    op.create_index(
        "ix_history_contacts_recipient_domain", "history_contacts", ["recipient_domain"]
    )
    op.create_index("ix_history_contacts_touched_at", "history_contacts", ["touched_at"])
    op.create_table(
        "history_names",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("display_name", sa.String(255), nullable=False),
        sa.Column("name_key", sa.String(255), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("touched_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("address", "name_key", name="uq_history_names_address_name"),
    )
    op.create_index("ix_history_names_name_key", "history_names", ["name_key"])
    op.create_index("ix_history_names_touched_at", "history_names", ["touched_at"])
    op.create_table(
        "exemptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("recipient_domain", sa.String(255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("granted_by", sa.String(255), nullable=False),
        sa.Column("granted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("until", sa.Date(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(255), nullable=True),
    )
    op.create_index("ix_exemptions_sender", "exemptions", ["sender"])


def downgrade() -> None:
    op.drop_index("ix_exemptions_sender", table_name="exemptions")
    op.drop_table("exemptions")
    op.drop_index("ix_history_names_touched_at", table_name="history_names")
    op.drop_index("ix_history_names_name_key", table_name="history_names")
    op.drop_table("history_names")
    op.drop_index("ix_history_contacts_touched_at", table_name="history_contacts")
    op.drop_index("ix_history_contacts_recipient_domain", table_name="history_contacts")
    op.drop_index("ix_history_contacts_recipient", table_name="history_contacts")
    op.drop_table("history_contacts")
