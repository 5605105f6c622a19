"""Incidents: items that left, register records in them, recipients and recalls, timeline.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("opened_at", _TZ, nullable=False),
        sa.Column("opened_by", sa.String(255), nullable=False),
        sa.Column("occurred_at", _TZ, nullable=True),
        sa.Column("discovered_at", _TZ, nullable=True),
        sa.Column("discovered_how", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=False),
        sa.Column("summary_zh", sa.Text(), nullable=False),
        sa.Column("cause", sa.Text(), nullable=False),
        sa.Column("remedial", sa.Text(), nullable=False),
        sa.Column("remedial_zh", sa.Text(), nullable=False),
        sa.Column("risk", sa.Text(), nullable=False),
        sa.Column("data_user", sa.String(255), nullable=False),
        sa.Column("data_user_zh", sa.String(255), nullable=False),
        sa.Column("contact", sa.Text(), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
    )
    op.create_index("ix_incidents_status", "incidents", ["status"])
    op.create_table(
        "incident_items",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("ref", sa.String(255), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sender", sa.String(320), nullable=False),
        sa.Column("sent_at", _TZ, nullable=True),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.UniqueConstraint("incident_id", "sha256", name="uq_incident_items_content"),
    )
    op.create_index("ix_incident_items_incident_id", "incident_items", ["incident_id"])
    op.create_table(
        "incident_records",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("item_id", sa.Integer(), sa.ForeignKey("incident_items.id"), nullable=False),
        sa.Column("register", sa.String(64), nullable=False),
        sa.Column("record_id", sa.String(255), nullable=False),
        sa.Column("status", sa.String(64), nullable=False),
        sa.UniqueConstraint("item_id", "register", "record_id", name="uq_incident_records_item"),
    )
    op.create_index("ix_incident_records_incident_id", "incident_records", ["incident_id"])
    op.create_index("ix_incident_records_item_id", "incident_records", ["item_id"])
    op.create_table(
        "incident_recipients",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("address", sa.String(320), nullable=False),
        sa.Column("unintended", sa.Boolean(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("added_at", _TZ, nullable=False),
        sa.Column("added_by", sa.String(255), nullable=False),
        sa.Column("recall_sent_at", _TZ, nullable=True),
        sa.Column("confirmed_at", _TZ, nullable=True),
        sa.Column("confirmed_by", sa.String(255), nullable=True),
        sa.Column("confirmation", sa.Text(), nullable=False),
        sa.UniqueConstraint("incident_id", "address", name="uq_incident_recipients_address"),
    )
    op.create_index("ix_incident_recipients_incident_id", "incident_recipients", ["incident_id"])
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("incident_id", sa.Integer(), sa.ForeignKey("incidents.id"), nullable=False),
        sa.Column("at", _TZ, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("actor", sa.String(255), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("data", sa.JSON(), nullable=False),
    )
    op.create_index("ix_incident_events_incident_id", "incident_events", ["incident_id"])


def downgrade() -> None:
    for table in ("incident_events", "incident_recipients", "incident_records"):
        op.drop_index(f"ix_{table}_incident_id", table_name=table)
    op.drop_index("ix_incident_records_item_id", table_name="incident_records")
    op.drop_table("incident_events")
    op.drop_table("incident_recipients")
    op.drop_table("incident_records")
    op.drop_index("ix_incident_items_incident_id", table_name="incident_items")
    op.drop_table("incident_items")
    op.drop_index("ix_incidents_status", table_name="incidents")
    op.drop_table("incidents")
