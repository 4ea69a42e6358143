"""Calculations on a schedule: an RRULE, a look-back and the last occurrence served.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02 17:40:00

Existing calculations keep running when their inputs change and get no schedule.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterhub.model.types

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    with op.batch_alter_table("calc_definition", schema=None) as batch_op:
        batch_op.add_column(sa.Column("schedule", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("lookback_days", sa.Integer(), server_default="1", nullable=False)
        )
        batch_op.add_column(
            sa.Column("schedule_served_at", meterhub.model.types.UTCDateTime(), nullable=True)
        )


def downgrade() -> None:
    """Revert this revision."""
    with op.batch_alter_table("calc_definition", schema=None) as batch_op:
        batch_op.drop_column("schedule_served_at")
        batch_op.drop_column("lookback_days")
        batch_op.drop_column("schedule")
