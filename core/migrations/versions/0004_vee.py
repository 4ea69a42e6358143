"""VEE: validation profiles, runs, results and billing releases; day calendars; versioned
customer scripts; calculated channels.

Self-contained: it creates only its own tables.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 14:15:38.598937
"""
# ruff: noqa: E501

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import meterhub.model.templates
import meterhub.model.types

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the tables of VEE, day calendars, scripts and calculations."""
    op.create_table(
        "cal_calendar",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("country", sa.String(length=2), nullable=True),
        sa.Column("subdivision", sa.String(length=10), nullable=True),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cal_calendar")),
        sa.UniqueConstraint("name", name=op.f("uq_cal_calendar_name")),
    )
    op.create_table(
        "script",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("purpose", sa.String(length=20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('check', 'estimate', 'calculate')", name=op.f("ck_script_purpose")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script")),
        sa.UniqueConstraint("name", name=op.f("uq_script_name")),
    )
    op.create_table(
        "cal_special_day",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("calendar_id", sa.Integer(), nullable=False),
        sa.Column("day", meterhub.model.types.ISODate(), nullable=False),
        sa.Column("day_type", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["cal_calendar.id"],
            name=op.f("fk_cal_special_day_calendar_id_cal_calendar"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_cal_special_day")),
        sa.UniqueConstraint("calendar_id", "day", name=op.f("uq_cal_special_day_calendar_id_day")),
    )
    op.create_table(
        "script_version",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("script_id", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("saved_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("saved_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["script_id"],
            ["script.id"],
            name=op.f("fk_script_version_script_id_script"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_script_version")),
        sa.UniqueConstraint(
            "script_id", "version", name=op.f("uq_script_version_script_id_version")
        ),
    )
    op.create_table(
        "vee_profile",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("calendar_id", sa.Integer(), nullable=True),
        sa.Column("at_ingest", sa.Boolean(), nullable=False),
        sa.Column("schedule", sa.String(length=200), nullable=True),
        sa.Column("lookback_days", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["calendar_id"],
            ["cal_calendar.id"],
            name=op.f("fk_vee_profile_calendar_id_cal_calendar"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vee_profile")),
        sa.UniqueConstraint("name", name=op.f("uq_vee_profile_name")),
    )
    op.create_table(
        "vee_run",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=True),
        sa.Column("trigger_kind", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("user_name", sa.String(length=200), nullable=False),
        sa.Column("started_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("period_start", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("period_end", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("channels_total", sa.Integer(), nullable=False),
        sa.Column("channels_done", sa.Integer(), nullable=False),
        sa.Column("channels_failed", sa.Integer(), nullable=False),
        sa.Column("values_checked", sa.BigInteger(), nullable=False),
        sa.Column("values_suspect", sa.BigInteger(), nullable=False),
        sa.Column("values_estimated", sa.BigInteger(), nullable=False),
        sa.Column("summary", meterhub.model.templates.JSONText(), nullable=False),
        sa.CheckConstraint(
            "status IN ('running', 'succeeded', 'partial', 'failed', 'interrupted')",
            name=op.f("ck_vee_run_status"),
        ),
        sa.CheckConstraint(
            "trigger_kind IN ('ingest', 'schedule', 'demand', 'event')",
            name=op.f("ck_vee_run_trigger_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["vee_profile.id"],
            name=op.f("fk_vee_run_profile_id_vee_profile"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vee_run")),
    )
    with op.batch_alter_table("vee_run", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_vee_run_profile_id"), ["profile_id"], unique=False)

    op.create_table(
        "vee_step",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("parameters", meterhub.model.templates.JSONText(), nullable=False),
        sa.CheckConstraint(
            "kind IN ('check', 'estimate', 'script_check', 'script_estimate')",
            name=op.f("ck_vee_step_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["vee_profile.id"],
            name=op.f("fk_vee_step_profile_id_vee_profile"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vee_step")),
        sa.UniqueConstraint("profile_id", "position", name=op.f("uq_vee_step_profile_id_position")),
    )
    op.create_table(
        "calc_definition",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("target_channel_id", sa.Integer(), nullable=False),
        sa.Column("formula", sa.Text(), nullable=False),
        sa.Column("tz", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["target_channel_id"],
            ["channel.id"],
            name=op.f("fk_calc_definition_target_channel_id_channel"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_calc_definition")),
        sa.UniqueConstraint("name", name=op.f("uq_calc_definition_name")),
        sa.UniqueConstraint("target_channel_id", name=op.f("uq_calc_definition_target_channel_id")),
    )
    op.create_table(
        "vee_assignment",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("profile_id", sa.Integer(), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=True),
        sa.Column("group_id", sa.Integer(), nullable=True),
        sa.Column("template_id", sa.Integer(), nullable=True),
        sa.Column("overrides", meterhub.model.templates.JSONText(), nullable=False),
        sa.CheckConstraint(
            "(CASE WHEN channel_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN group_id IS NULL THEN 0 ELSE 1 END) + (CASE WHEN template_id IS NULL THEN 0 ELSE 1 END) = 1",
            name=op.f("ck_vee_assignment_one_target"),
        ),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_vee_assignment_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["meter_group.id"],
            name=op.f("fk_vee_assignment_group_id_meter_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["profile_id"],
            ["vee_profile.id"],
            name=op.f("fk_vee_assignment_profile_id_vee_profile"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["template.id"],
            name=op.f("fk_vee_assignment_template_id_template"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vee_assignment")),
        sa.UniqueConstraint(
            "profile_id",
            "channel_id",
            "group_id",
            "template_id",
            name=op.f("uq_vee_assignment_profile_id_channel_id_group_id_template_id"),
        ),
    )
    with op.batch_alter_table("vee_assignment", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vee_assignment_channel_id"), ["channel_id"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_vee_assignment_group_id"), ["group_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_vee_assignment_template_id"), ["template_id"], unique=False
        )

    op.create_table(
        "vee_release",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("period_start", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("period_end", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("released_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("released_by", sa.String(length=200), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("revoked_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("revoked_by", sa.String(length=200), nullable=True),
        sa.Column("revoke_reason", sa.Text(), nullable=True),
        sa.CheckConstraint("period_end > period_start", name=op.f("ck_vee_release_period")),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_vee_release_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vee_release")),
    )
    with op.batch_alter_table("vee_release", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vee_release_channel_id_period_start"),
            ["channel_id", "period_start"],
            unique=False,
        )

    op.create_table(
        "vee_result",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=True, comment="slot start, UTC microseconds"),
        sa.Column("check_name", sa.String(length=100), nullable=False),
        sa.Column(
            "outcome",
            sa.String(length=20),
            nullable=False,
            comment="suspect, missing, estimated or failed",
        ),
        sa.Column("message", sa.String(length=500), nullable=True),
        sa.ForeignKeyConstraint(
            ["channel_id"],
            ["channel.id"],
            name=op.f("fk_vee_result_channel_id_channel"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["vee_run.id"],
            name=op.f("fk_vee_result_run_id_vee_run"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vee_result")),
        comment="VEE results per value (suspect, estimated) and per failed channel",
    )
    with op.batch_alter_table("vee_result", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_vee_result_channel_id_ts"), ["channel_id", "ts"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_vee_result_run_id"), ["run_id"], unique=False)

    op.create_table(
        "calc_input",
        sa.Column("definition_id", sa.Integer(), nullable=False),
        sa.Column("alias", sa.String(length=100), nullable=False),
        sa.Column("channel_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["channel_id"], ["channel.id"], name=op.f("fk_calc_input_channel_id_channel")
        ),
        sa.ForeignKeyConstraint(
            ["definition_id"],
            ["calc_definition.id"],
            name=op.f("fk_calc_input_definition_id_calc_definition"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("definition_id", "alias", name=op.f("pk_calc_input")),
    )
    with op.batch_alter_table("calc_input", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calc_input_channel_id"), ["channel_id"], unique=False)


def downgrade() -> None:
    """Drop the tables of VEE, day calendars, scripts and calculations."""
    with op.batch_alter_table("calc_input", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calc_input_channel_id"))

    op.drop_table("calc_input")
    with op.batch_alter_table("vee_result", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vee_result_run_id"))
        batch_op.drop_index(batch_op.f("ix_vee_result_channel_id_ts"))

    op.drop_table("vee_result")
    with op.batch_alter_table("vee_release", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vee_release_channel_id_period_start"))

    op.drop_table("vee_release")
    with op.batch_alter_table("vee_assignment", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vee_assignment_template_id"))
        batch_op.drop_index(batch_op.f("ix_vee_assignment_group_id"))
        batch_op.drop_index(batch_op.f("ix_vee_assignment_channel_id"))

    op.drop_table("vee_assignment")
    op.drop_table("calc_definition")
    op.drop_table("vee_step")
    with op.batch_alter_table("vee_run", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_vee_run_profile_id"))

    op.drop_table("vee_run")
    op.drop_table("vee_profile")
    op.drop_table("script_version")
    op.drop_table("cal_special_day")
    op.drop_table("script")
    op.drop_table("cal_calendar")
