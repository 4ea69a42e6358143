"""Tables of the meter data store (registered on :data:`meterhub.model.Base.metadata`).

Interval data lives in **blocks**: one row per channel per UTC day (sub-daily intervals) or per 32
consecutive dates (daily values), the values and flags of every slot packed by
:mod:`meterhub.timeseries.codec`.

- ``ts_raw_block``: what the meters delivered, with their status words. One row per block,
  primary key (channel, day) — on SQLite a rowid table with a unique index, which suits rows of a
  few hundred bytes (a ``WITHOUT ROWID`` table spills them to overflow pages). A stored slot never
  changes; a later write only fills slots that were empty.
- ``ts_conflict``: a re-read that differs from the stored raw value, one row per value.
- ``ts_norm_block``: normalized values and MeterHub flags, **versioned**: every change writes a
  whole new block version and closes the previous one (``replaced_at``), so "as of T" is one
  range scan of the primary key with ``recorded_at <= T < replaced_at``.
- ``ts_change``: who changed normalized values, why, when (one row per call).
- ``ts_norm_archive``: versions moved away by retention.
- ``ts_register`` (raw) with ``ts_register_norm`` (normalized, versioned) and ``ts_event``:
  sparse readings and events, one row per value.
- ``ts_unit``, ``ts_formula``, ``ts_channel_formula``, ``ts_group_formula``: normalization
  settings (a channel's own formula wins over its meter groups' formula).
- ``ts_retention``: the horizon before which old versions were pruned.

All instants are ``BIGINT`` microseconds since 1970-01-01 UTC: exact, zone free, and the same on
SQLite, PostgreSQL and Oracle (``DateTime`` becomes ``DATE`` on Oracle).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    ForeignKey,
    ForeignKeyConstraint,
    Identity,
    Index,
    Integer,
    LargeBinary,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from meterhub.model.base import Base
from meterhub.model.types import Float64

metadata = Base.metadata


def _channel_fk(**kwargs: object) -> ForeignKey:
    return ForeignKey("channel.id", **kwargs)  # type: ignore[arg-type]


raw_block = Table(
    "ts_raw_block",
    metadata,
    Column("channel_id", Integer, _channel_fk(), primary_key=True),
    Column("day_no", Integer, primary_key=True, comment="UTC day number, or first date of 32"),
    Column("received_at", BigInteger, nullable=False, comment="last write, UTC microseconds"),
    Column("value_data", LargeBinary, nullable=False),
    Column("status_data", LargeBinary, nullable=True),
    comment="Raw interval values as acquired, one row per channel and day; immutable slots",
)

conflict = Table(
    "ts_conflict",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("channel_id", Integer, _channel_fk(), nullable=False),
    Column("ts", BigInteger, nullable=False, comment="slot start (registers: reading time)"),
    Column("stored_value", Float64, nullable=True),
    Column("stored_status", BigInteger, nullable=True),
    Column("value", Float64, nullable=False),
    Column("status", BigInteger, nullable=False),
    Column("received_at", BigInteger, nullable=False),
    Index(None, "channel_id", "ts"),
    comment="Re-reads that differ from the stored raw value",
)

change = Table(
    "ts_change",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("recorded_at", BigInteger, nullable=False),
    Column("user_name", String(200), nullable=False),
    Column("reason", String(100), nullable=False),
    Column("comment_text", Text, nullable=True),
    comment="One change of normalized values: who, why, when",
)

norm_block = Table(
    "ts_norm_block",
    metadata,
    Column("channel_id", Integer, _channel_fk(), primary_key=True),
    Column("day_no", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("change_id", Integer, ForeignKey("ts_change.id"), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("replaced_at", BigInteger, nullable=True),
    Column("value_data", LargeBinary, nullable=False),
    Column("flag_data", LargeBinary, nullable=True),
    comment="Normalized interval values, a new block version on every change",
)

#: Current versions only (partial index on SQLite and PostgreSQL): a current read visits only
#: current rows, not the replaced versions interleaved with them in the primary key.
Index(
    "ix_ts_norm_block_current",
    norm_block.c.channel_id,
    norm_block.c.day_no,
    sqlite_where=norm_block.c.replaced_at.is_(None),
    postgresql_where=norm_block.c.replaced_at.is_(None),
)

norm_archive = Table(
    "ts_norm_archive",
    metadata,
    Column("channel_id", Integer, _channel_fk(), primary_key=True),
    Column("day_no", Integer, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("change_id", Integer, ForeignKey("ts_change.id"), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("replaced_at", BigInteger, nullable=True),
    Column("value_data", LargeBinary, nullable=False),
    Column("flag_data", LargeBinary, nullable=True),
    Column("archived_at", BigInteger, nullable=False),
    comment="Normalized block versions moved out by retention",
)

register = Table(
    "ts_register",
    metadata,
    Column("channel_id", Integer, _channel_fk(), primary_key=True),
    Column("ts", BigInteger, primary_key=True, comment="reading time, UTC microseconds"),
    Column("value", Float64, nullable=False, comment="raw, as acquired"),
    Column("status", BigInteger, nullable=False),
    Column("capture_ts", BigInteger, nullable=True, comment="e.g. time of a maximum demand"),
    Column("received_at", BigInteger, nullable=False),
    comment="Raw register values (billing, daily readings, instantaneous), one row per value",
)

register_norm = Table(
    "ts_register_norm",
    metadata,
    Column("channel_id", Integer, primary_key=True),
    Column("ts", BigInteger, primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("change_id", Integer, ForeignKey("ts_change.id"), nullable=False),
    Column("recorded_at", BigInteger, nullable=False),
    Column("replaced_at", BigInteger, nullable=True),
    Column("normalized", Float64, nullable=False),
    Column("flags", BigInteger, nullable=False),
    ForeignKeyConstraint(["channel_id", "ts"], ["ts_register.channel_id", "ts_register.ts"]),
    comment="Normalized register values, a new version per change (like ts_norm_block)",
)

event = Table(
    "ts_event",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("channel_id", Integer, _channel_fk(), nullable=False),
    Column("ts", BigInteger, nullable=False),
    Column("code", Integer, nullable=False),
    Column("value", Float64, nullable=True),
    Column("received_at", BigInteger, nullable=False),
    UniqueConstraint("channel_id", "ts", "code"),
    comment="Meter events (event logs, status changes), one row per event",
)

unit = Table(
    "ts_unit",
    metadata,
    Column("symbol", String(16), primary_key=True),
    Column("quantity", String(40), nullable=False),
    Column("factor_num", BigInteger, nullable=False, comment="size in the base unit: num/den"),
    Column("factor_den", BigInteger, nullable=False),
    Column("rate_of", String(16), nullable=True, comment="for a rate unit (W): its integral (Wh)"),
    comment="Site-specific units in addition to the standard ones built in",
)

formula = Table(
    "ts_formula",
    metadata,
    Column("id", Integer, Identity(), primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
    Column("target_unit", String(16), nullable=True),
    Column("source_unit", String(16), nullable=True),
    Column("apply_scaler", Boolean, nullable=False, default=True),
    Column("ct_primary", Float64, nullable=True),
    Column("ct_secondary", Float64, nullable=True),
    Column("vt_primary", Float64, nullable=True),
    Column("vt_secondary", Float64, nullable=True),
    Column("pulse_constant", Float64, nullable=True, comment="pulses per pulse_unit"),
    Column("pulse_unit", String(16), nullable=True),
    Column("demand_to_energy", Boolean, nullable=False, default=False),
    comment="Normalization formulas, shared by every channel they are assigned to",
)

channel_formula = Table(
    "ts_channel_formula",
    metadata,
    Column("channel_id", Integer, _channel_fk(ondelete="CASCADE"), primary_key=True),
    Column("formula_id", Integer, ForeignKey("ts_formula.id"), nullable=False, index=True),
    comment="Which formula normalizes a channel",
)

group_formula = Table(
    "ts_group_formula",
    metadata,
    Column("group_id", Integer, ForeignKey("meter_group.id", ondelete="CASCADE"), primary_key=True),
    Column("formula_id", Integer, ForeignKey("ts_formula.id"), nullable=False, index=True),
    comment="A formula for every channel of the virtual meters of a meter group",
)

retention = Table(
    "ts_retention",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("archived_before", BigInteger, nullable=True, comment="older versions are archived"),
    Column("dropped_before", BigInteger, nullable=True, comment="older versions are gone"),
    comment="Normalized versions replaced before these instants were archived or dropped",
)

#: Every table of the store, in dependency order.
ALL_TABLES = (
    change,
    raw_block,
    conflict,
    norm_block,
    norm_archive,
    register,
    register_norm,
    event,
    unit,
    formula,
    channel_formula,
    group_formula,
    retention,
)
