"""Acquisition engine: jobs, runs, tasks, sessions (debug logs), session state, line pools,
error groups, firmware images, engine leases.

Self-contained: it creates only ``acq_*`` tables and references ``meter`` and
``communication_device`` of revision 0001.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 14:14:05.511501
"""
# ruff: noqa: E501

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import oracle

import meterhub.model.templates
import meterhub.model.types

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Create the acquisition tables (``acq_*``)."""
    op.create_table(
        "acq_error_group",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.CheckConstraint("kind IN ('job', 'time_sync')", name=op.f("ck_acq_error_group_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_error_group")),
        sa.UniqueConstraint("name", name=op.f("uq_acq_error_group_name")),
    )
    op.create_table(
        "acq_firmware_image",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("content", sa.LargeBinary(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_firmware_image")),
        sa.UniqueConstraint("name", "version", name=op.f("uq_acq_firmware_image_name_version")),
    )
    op.create_table(
        "acq_job",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actions", meterhub.model.templates.JSONText(), nullable=False),
        sa.Column("targets", meterhub.model.templates.JSONText(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("time_zone", sa.String(length=64), nullable=False),
        sa.Column("recurrence", sa.Text(), nullable=True),
        sa.Column("starts_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("window_minutes", sa.Integer(), nullable=True),
        sa.Column("exception_dates", meterhub.model.templates.JSONText(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("retry_delay", sa.Integer(), nullable=False),
        sa.Column(
            "retry_backoff",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=False,
        ),
        sa.Column("session_timeout", sa.Integer(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("next_run_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("last_run_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('scheduled', 'on_demand', 'quick')", name=op.f("ck_acq_job_kind")
        ),
        sa.CheckConstraint("max_attempts >= 1", name=op.f("ck_acq_job_max_attempts")),
        sa.CheckConstraint("priority >= 0 AND priority <= 9", name=op.f("ck_acq_job_priority")),
        sa.CheckConstraint("retry_delay >= 0", name=op.f("ck_acq_job_retry_delay")),
        sa.CheckConstraint("session_timeout >= 1", name=op.f("ck_acq_job_session_timeout")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_job")),
        sa.UniqueConstraint("name", name=op.f("uq_acq_job_name")),
    )
    op.create_index(op.f("ix_acq_job_next_run_at"), "acq_job", ["next_run_at"], unique=False)

    op.create_table(
        "acq_lease",
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("holder", sa.String(length=200), nullable=False),
        sa.Column("acquired_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("expires_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_acq_lease")),
    )
    op.create_table(
        "acq_line_pool",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.CheckConstraint("capacity >= 1", name=op.f("ck_acq_line_pool_capacity")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_line_pool")),
        sa.UniqueConstraint("name", name=op.f("uq_acq_line_pool_name")),
    )
    op.create_table(
        "acq_session",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("task_id", sa.BigInteger(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("attempt", sa.Integer(), nullable=False),
        sa.Column("path_id", sa.Integer(), nullable=True),
        sa.Column("path_priority", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("medium", sa.String(length=32), nullable=True),
        sa.Column("pool_key", sa.String(length=120), nullable=True),
        sa.Column("started_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("finished_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("bytes_sent", sa.BigInteger(), nullable=False),
        sa.Column("bytes_received", sa.BigInteger(), nullable=False),
        sa.Column("frame_count", sa.Integer(), nullable=False),
        sa.Column("frames_dropped", sa.Integer(), nullable=False),
        sa.Column("frames", sa.LargeBinary(), nullable=True),
        sa.CheckConstraint(
            "outcome IN ('succeeded', 'failed')", name=op.f("ck_acq_session_outcome")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_session")),
    )
    op.create_index(
        op.f("ix_acq_session_meter_id_started_at"),
        "acq_session",
        ["meter_id", "started_at"],
        unique=False,
    )
    op.create_index(op.f("ix_acq_session_started_at"), "acq_session", ["started_at"], unique=False)

    op.create_table(
        "acq_error_member",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("task_id", sa.Integer(), nullable=True),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("added_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["acq_error_group.id"],
            name=op.f("fk_acq_error_member_group_id_acq_error_group"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meter.id"],
            name=op.f("fk_acq_error_member_meter_id_meter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_error_member")),
        sa.UniqueConstraint(
            "group_id", "meter_id", name=op.f("uq_acq_error_member_group_id_meter_id")
        ),
    )
    op.create_index(
        op.f("ix_acq_error_member_meter_id"), "acq_error_member", ["meter_id"], unique=False
    )

    op.create_table(
        "acq_last_read",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("read_to", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meter.id"],
            name=op.f("fk_acq_last_read_meter_id_meter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meter_id", "action", name=op.f("pk_acq_last_read")),
    )
    op.create_table(
        "acq_pool_device",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("pool_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"],
            ["communication_device.id"],
            name=op.f("fk_acq_pool_device_device_id_communication_device"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["pool_id"],
            ["acq_line_pool.id"],
            name=op.f("fk_acq_pool_device_pool_id_acq_line_pool"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_acq_pool_device")),
    )
    op.create_index(
        op.f("ix_acq_pool_device_pool_id"), "acq_pool_device", ["pool_id"], unique=False
    )

    op.create_table(
        "acq_run",
        sa.Column("id", sa.Integer(), sa.Identity(always=False), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("trigger_kind", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=200), nullable=False),
        sa.Column("scheduled_for", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("window_end", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("quick", sa.Boolean(), nullable=False),
        sa.Column(
            "capacity_share",
            sa.Double().with_variant(oracle.BINARY_DOUBLE(), "oracle"),
            nullable=True,
        ),
        sa.Column("tasks_total", sa.Integer(), nullable=False),
        sa.Column("tasks_succeeded", sa.Integer(), nullable=False),
        sa.Column("tasks_failed", sa.Integer(), nullable=False),
        sa.Column("tasks_cancelled", sa.Integer(), nullable=False),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=True),
        sa.Column("error_group_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'succeeded', 'partial', 'failed', 'cancelled')",
            name=op.f("ck_acq_run_status"),
        ),
        sa.CheckConstraint(
            "trigger_kind IN ('schedule', 'user')", name=op.f("ck_acq_run_trigger_kind")
        ),
        sa.ForeignKeyConstraint(["job_id"], ["acq_job.id"], name=op.f("fk_acq_run_job_id_acq_job")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_run")),
    )
    op.create_index(op.f("ix_acq_run_job_id"), "acq_run", ["job_id"], unique=False)
    op.create_index(op.f("ix_acq_run_status"), "acq_run", ["status"], unique=False)

    op.create_table(
        "acq_session_state",
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("value", sa.String(length=200), nullable=False),
        sa.Column("reserved_to", sa.BigInteger(), nullable=True),
        sa.Column("updated_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["meter_id"],
            ["meter.id"],
            name=op.f("fk_acq_session_state_meter_id_meter"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("meter_id", "name", name=op.f("pk_acq_session_state")),
    )
    op.create_table(
        "acq_task",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            sa.Identity(always=False),
            nullable=False,
        ),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("meter_id", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(length=32), nullable=False),
        sa.Column("action_index", sa.Integer(), nullable=False),
        sa.Column("pool_key", sa.String(length=120), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("not_before", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", meterhub.model.types.UTCDateTime(), nullable=False),
        sa.Column("started_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("finished_at", meterhub.model.types.UTCDateTime(), nullable=True),
        sa.Column("progress", sa.Integer(), nullable=False),
        sa.Column("path_priority", sa.Integer(), nullable=True),
        sa.Column("path_id", sa.Integer(), nullable=True),
        sa.Column("device_id", sa.Integer(), nullable=True),
        sa.Column("error_class", sa.String(length=32), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("warnings", sa.Integer(), nullable=False),
        sa.Column("details", meterhub.model.templates.JSONText(), nullable=True),
        sa.Column("sessions", meterhub.model.templates.JSONText(), nullable=True),
        sa.CheckConstraint(
            "state IN ('queued', 'running', 'retry', 'succeeded', 'failed', 'cancelled')",
            name=op.f("ck_acq_task_state"),
        ),
        sa.CheckConstraint("progress >= 0 AND progress <= 100", name=op.f("ck_acq_task_progress")),
        sa.ForeignKeyConstraint(
            ["meter_id"], ["meter.id"], name=op.f("fk_acq_task_meter_id_meter")
        ),
        sa.ForeignKeyConstraint(
            ["run_id"], ["acq_run.id"], name=op.f("fk_acq_task_run_id_acq_run")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acq_task")),
    )
    op.create_index(op.f("ix_acq_task_meter_id"), "acq_task", ["meter_id"], unique=False)
    op.create_index(op.f("ix_acq_task_run_id_state"), "acq_task", ["run_id", "state"], unique=False)


def downgrade() -> None:
    """Drop the acquisition tables."""
    op.drop_index(op.f("ix_acq_task_run_id_state"), table_name="acq_task")
    op.drop_index(op.f("ix_acq_task_meter_id"), table_name="acq_task")

    op.drop_table("acq_task")
    op.drop_table("acq_session_state")
    op.drop_index(op.f("ix_acq_run_status"), table_name="acq_run")
    op.drop_index(op.f("ix_acq_run_job_id"), table_name="acq_run")

    op.drop_table("acq_run")
    op.drop_index(op.f("ix_acq_pool_device_pool_id"), table_name="acq_pool_device")

    op.drop_table("acq_pool_device")
    op.drop_table("acq_last_read")
    op.drop_index(op.f("ix_acq_error_member_meter_id"), table_name="acq_error_member")

    op.drop_table("acq_error_member")
    op.drop_index(op.f("ix_acq_session_started_at"), table_name="acq_session")
    op.drop_index(op.f("ix_acq_session_meter_id_started_at"), table_name="acq_session")

    op.drop_table("acq_session")
    op.drop_table("acq_line_pool")
    op.drop_table("acq_lease")
    op.drop_index(op.f("ix_acq_job_next_run_at"), table_name="acq_job")

    op.drop_table("acq_job")
    op.drop_table("acq_firmware_image")
    op.drop_table("acq_error_group")
