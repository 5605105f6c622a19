"""A cluster of nodes on one database: held messages' blobs, the shared quarantine keyring,
which node held an item and which one is releasing it, and published register versions.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

_TZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "quarantine_blobs",
        sa.Column("item_id", sa.String(32), primary_key=True),
        sa.Column("blob", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "cluster_keyring",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "register_versions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("name", sa.String(63), nullable=False, index=True),
        sa.Column("created", _TZ, nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("sealed", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "quarantine_claims",
        sa.Column("item_id", sa.String(32), primary_key=True),
        sa.Column("held_by", sa.String(64), nullable=True),
        sa.Column("lease_node", sa.String(64), nullable=True),
        sa.Column("lease_expires", _TZ, nullable=True, index=True),
    )


def downgrade() -> None:
    op.drop_table("quarantine_claims")
    op.drop_table("register_versions")
    op.drop_table("cluster_keyring")
    op.drop_table("quarantine_blobs")
