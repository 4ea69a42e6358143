"""Meter data store: raw and versioned normalized interval blocks, registers, events, formulas.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28 11:57:49.369973
"""
# ruff: noqa: E501

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of the meter data store (``ts_*``)."""
    op.create_table(
        "ts_change",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=100), nullable=False),
        sa.Column("comment_text", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ts_change")),
        comment="One change of normalized values: who, why, when",
    )
    op.create_table(
        "ts_formula",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("target_unit", sa.String(length=16), nullable=True),
        sa.Column("source_unit", sa.String(length=16), nullable=True),
        sa.Column("apply_scaler", sa.Boolean(), nullable=False),
        sa.Column(
            "ct_primary", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=True
        ),
        sa.Column(
            "ct_secondary",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=True,
        ),
        sa.Column(
            "vt_primary", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=True
        ),
        sa.Column(
            "vt_secondary",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=True,
        ),
        sa.Column(
            "pulse_constant",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=True,
            comment="pulses per pulse_unit",
        ),
        sa.Column("pulse_unit", sa.String(length=16), nullable=True),
        sa.Column("demand_to_energy", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ts_formula")),
        sa.UniqueConstraint("name", name=op.f("uq_ts_formula_name")),
        comment="Normalization formulas, shared by every channel they are assigned to",
    )
    op.create_table(
        "ts_retention",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column(
            "archived_before", sa.BigInteger(), nullable=True, comment="older versions are archived"
        ),
        sa.Column(
            "dropped_before", sa.BigInteger(), nullable=True, comment="older versions are gone"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ts_retention")),
        comment="Normalized versions replaced before these instants were archived or dropped",
    )
    op.create_table(
        "ts_unit",
        sa.Column("symbol", sa.String(length=16), nullable=False),
        sa.Column("quantity", sa.String(length=40), nullable=False),
        sa.Column(
            "factor_num", sa.BigInteger(), nullable=False, comment="size in the base unit: num/den"
        ),
        sa.Column("factor_den", sa.BigInteger(), nullable=False),
        sa.Column(
            "rate_of",
            sa.String(length=16),
            nullable=True,
            comment="for a rate unit (W): its integral (Wh)",
        ),
        sa.PrimaryKeyConstraint("symbol", name=op.f("pk_ts_unit")),
        comment="Site-specific units in addition to the standard ones built in",
    )
    op.create_table(
        "ts_group_formula",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("formula_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["formula_id"],
            ["ts_formula.id"],
            name=op.f("fk_ts_group_formula_formula_id_ts_formula"),
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["meter_group.id"],
            name=op.f("fk_ts_group_formula_group_id_meter_group"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("group_id", name=op.f("pk_ts_group_formula")),
        comment="A formula for every channel of the virtual meters of a meter group",
    )
    op.create_index(
        op.f("ix_ts_group_formula_formula_id"), "ts_group_formula", ["formula_id"], unique=False
    )

    op.create_table(
        "ts_channel_formula",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("formula_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_ts_channel_formula_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["formula_id"],
            ["ts_formula.id"],
            name=op.f("fk_ts_channel_formula_formula_id_ts_formula"),
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_ts_channel_formula")),
        comment="Which formula normalizes a channel",
    )
    op.create_index(
        op.f("ix_ts_channel_formula_formula_id"), "ts_channel_formula", ["formula_id"], unique=False
    )

    op.create_table(
        "ts_conflict",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column(
            "ts", sa.BigInteger(), nullable=False, comment="slot start (registers: reading time)"
        ),
        sa.Column(
            "stored_value",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=True,
        ),
        sa.Column("stored_status", sa.BigInteger(), nullable=True),
        sa.Column(
            "value", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=False
        ),
        sa.Column("status", sa.BigInteger(), nullable=False),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_ts_conflict_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ts_conflict")),
        comment="Re-reads that differ from the stored raw value",
    )
    op.create_index(
        op.f("ix_ts_conflict_channel_id_ts"), "ts_conflict", ["channel_id", "ts"], unique=False
    )

    op.create_table(
        "ts_event",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column(
            "value", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=True
        ),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_ts_event_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_ts_event")),
        sa.UniqueConstraint(
            "channel_id", "ts", "code", name=op.f("uq_ts_event_channel_id_ts_code")
        ),
        comment="Meter events (event logs, status changes), one row per event",
    )
    op.create_table(
        "ts_norm_archive",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("day_no", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=True),
        sa.Column("value_data", sa.LargeBinary(), nullable=False),
        sa.Column("flag_data", sa.LargeBinary(), nullable=True),
        sa.Column("archived_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"], ["ts_change.id"], name=op.f("fk_ts_norm_archive_change_id_ts_change")
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_ts_norm_archive_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("channel_id", "day_no", "version", name=op.f("pk_ts_norm_archive")),
        comment="Normalized block versions moved out by retention",
    )
    op.create_table(
        "ts_norm_block",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("day_no", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=True),
        sa.Column("value_data", sa.LargeBinary(), nullable=False),
        sa.Column("flag_data", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["change_id"], ["ts_change.id"], name=op.f("fk_ts_norm_block_change_id_ts_change")
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_ts_norm_block_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("channel_id", "day_no", "version", name=op.f("pk_ts_norm_block")),
        comment="Normalized interval values, a new block version on every change",
    )
    op.create_index(
        "ix_ts_norm_block_current",
        "ts_norm_block",
        ["channel_id", "day_no"],
        unique=False,
        sqlite_where=sa.text("replaced_at IS NULL"),
        postgresql_where=sa.text("replaced_at IS NULL"),
    )
    op.create_table(
        "ts_raw_block",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column(
            "day_no", sa.Integer(), nullable=False, comment="UTC day number, or first date of 32"
        ),
        sa.Column(
            "received_at", sa.BigInteger(), nullable=False, comment="last write, UTC microseconds"
        ),
        sa.Column("value_data", sa.LargeBinary(), nullable=False),
        sa.Column("status_data", sa.LargeBinary(), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_ts_raw_block_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("channel_id", "day_no", name=op.f("pk_ts_raw_block")),
        comment="Raw interval values as acquired, one row per channel and day; immutable slots",
    )
    op.create_table(
        "ts_register",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False, comment="reading time, UTC microseconds"),
        sa.Column(
            "value",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=False,
            comment="raw, as acquired",
        ),
        sa.Column("status", sa.BigInteger(), nullable=False),
        sa.Column(
            "capture_ts", sa.BigInteger(), nullable=True, comment="e.g. time of a maximum demand"
        ),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_ts_register_channel_id_channel")
        ),
        sa.PrimaryKeyConstraint("channel_id", "ts", name=op.f("pk_ts_register")),
        comment="Raw register values (billing, daily readings, instantaneous), one row per value",
    )

    op.create_table(
        "ts_register_norm",
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("change_id", sa.Integer(), nullable=False),
        sa.Column("recorded_at", sa.BigInteger(), nullable=False),
        sa.Column("replaced_at", sa.BigInteger(), nullable=True),
        sa.Column(
            "normalized", sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"), nullable=False
        ),
        sa.Column("flags", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["change_id"], ["ts_change.id"], name=op.f("fk_ts_register_norm_change_id_ts_change")
        ),
        sa.ForeignKeyConstraint(
            ["channel_id", "ts"],
            ["ts_register.channel_id", "ts_register.ts"],
            name=op.f("fk_ts_register_norm_channel_id_ts_register"),
        ),
        sa.PrimaryKeyConstraint("channel_id", "ts", "version", name=op.f("pk_ts_register_norm")),
        comment="Normalized register values, a new version per change (like ts_norm_block)",
    )


def downgrade() -> None:
    """Drop the tables of the meter data store with all meter data in them."""
    op.drop_table("ts_register_norm")
    op.drop_table("ts_register")
    op.drop_table("ts_raw_block")
    op.drop_index("ix_ts_norm_block_current", table_name="ts_norm_block")
    op.drop_table("ts_norm_block")
    op.drop_table("ts_norm_archive")
    op.drop_table("ts_event")
    op.drop_index(op.f("ix_ts_conflict_channel_id_ts"), table_name="ts_conflict")

    op.drop_table("ts_conflict")
    op.drop_index(op.f("ix_ts_channel_formula_formula_id"), table_name="ts_channel_formula")

    op.drop_table("ts_channel_formula")
    op.drop_index(op.f("ix_ts_group_formula_formula_id"), table_name="ts_group_formula")

    op.drop_table("ts_group_formula")
    op.drop_table("ts_unit")
    op.drop_table("ts_retention")
    op.drop_table("ts_formula")
    op.drop_table("ts_change")
