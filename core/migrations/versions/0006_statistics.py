"""Communication statistics: session counters per hour, level (summary, virtual meter, device,
path), object and outcome.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:05:00.000000

The table starts empty: the sessions recorded before this revision (``acq_session``) are not
counted into it.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

import meterhub.model.types

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply this revision."""
    op.create_table(
        "acq_statistic",
        sa.Column("bucket", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("scope", sa.String(length=16), nullable=False),
        sa.Column("scope_id", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=32), nullable=False),
        sa.Column("sessions", sa.Integer(), nullable=False),
        sa.Column(
            "seconds", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=False
        ),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("bytes_received", sa.BigInteger(), nullable=False),
        sa.Column("backup", sa.Integer(), nullable=False),
        sa.Column("failovers", sa.Integer(), nullable=False),
        sa.CheckConstraint(
            "scope IN ('summary', 'virtual_meter', 'device', 'path')",
            name=op.f("ck_acq_statistic_scope"),
        ),
        sa.PrimaryKeyConstraint(
            "bucket", "scope", "scope_id", "outcome", name=op.f("pk_acq_statistic")
        ),
    )
    op.create_index(
        op.f("ix_acq_statistic_scope_scope_id_bucket"),
        "acq_statistic",
        ["scope", "scope_id", "bucket"],
        unique=False,
    )


def downgrade() -> None:
    """Revert this revision."""
    op.drop_index(op.f("ix_acq_statistic_scope_scope_id_bucket"), table_name="acq_statistic")
    op.drop_table("acq_statistic")
