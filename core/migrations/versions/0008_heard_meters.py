"""Meters heard on air: every sender a receiver heard, with its last status.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 18:20:00.000000

The table starts empty: telegrams received before this revision were only counted.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

import meterhub.model.types

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "acq_heard_meter",
        sa.Column("driver", sa.String(length=32), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("manufacturer", sa.String(length=16), nullable=True),
        sa.Column("identification", sa.String(length=32), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("device_type", sa.Integer(), nullable=True),
        sa.Column("medium", sa.String(length=32), nullable=True),
        sa.Column("first_heard", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("last_heard", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("telegrams", sa.Integer(), nullable=False),
        sa.Column("last_status", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=200), nullable=True),
        sa.Column(
            "rssi", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=True
        ),
        sa.PrimaryKeyConstraint("driver", "address", name=op.f("pk_acq_heard_meter")),
    )
    op.create_index(
        op.f("ix_acq_heard_meter_last_heard"), "acq_heard_meter", ["last_heard"], unique=False
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_acq_heard_meter_last_heard"), table_name="acq_heard_meter")
    op.drop_table("acq_heard_meter")
