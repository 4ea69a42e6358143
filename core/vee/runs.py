"""Run records: a ``vee_run`` row per run, progress per batch, results per value, and the
detection of runs whose process died (``interrupted``)."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterable
from datetime import datetime
from typing import Any, cast

import numpy as np
from sqlalchemy import Table, insert, select, update

from meterhub.model.vee import ValidationRun, validation_result
from meterhub.timeseries.timegrid import US_PER_MINUTE

__all__ = ["finish_run", "mark_interrupted", "record_progress", "result_rows", "start_run"]

_runs = cast(Table, ValidationRun.__table__)

#: Longest message stored with a result.
MESSAGE_LENGTH = 500


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def mark_interrupted(conn: Any, profile_id: int | None) -> int:
    """Mark as ``interrupted`` the running runs of ``profile_id`` whose process on this host is
    gone; returns how many."""
    host = socket.gethostname()
    rows = conn.execute(
        select(_runs.c.id, _runs.c.summary).where(
            _runs.c.status == "running", _runs.c.profile_id == profile_id
        )
    ).all()
    dead = [
        run_id
        for run_id, summary in rows
        if (summary or {}).get("host") == host and not _alive(int((summary or {}).get("pid", 0)))
    ]
    if dead:
        conn.execute(update(_runs).where(_runs.c.id.in_(dead)).values(status="interrupted"))
    return len(dead)


def start_run(
    conn: Any,
    *,
    profile_id: int | None,
    trigger: str,
    user: str,
    now: datetime,
    start: datetime,
    end: datetime,
    channels: int,
) -> int:
    """Insert the row of a new run (``running``); its id."""
    result = conn.execute(
        insert(_runs)
        .values(
            profile_id=profile_id,
            trigger_kind=trigger,
            status="running",
            user_name=user,
            started_at=now,
            period_start=start,
            period_end=end,
            channels_total=channels,
            channels_done=0,
            channels_failed=0,
            values_checked=0,
            values_suspect=0,
            values_estimated=0,
            summary={"host": socket.gethostname(), "pid": os.getpid()},
        )
        .returning(_runs.c.id)
    )
    return int(result.scalar_one())


def record_progress(
    conn: Any, run_id: int, *, done: int, failed: int, checked: int, suspect: int, estimated: int
) -> None:
    """Add a batch's counts to the run (in the batch's transaction)."""
    conn.execute(
        update(_runs)
        .where(_runs.c.id == run_id)
        .values(
            channels_done=_runs.c.channels_done + done,
            channels_failed=_runs.c.channels_failed + failed,
            values_checked=_runs.c.values_checked + checked,
            values_suspect=_runs.c.values_suspect + suspect,
            values_estimated=_runs.c.values_estimated + estimated,
        )
    )


def finish_run(
    conn: Any, run_id: int, *, status: str, now: datetime, summary: dict[str, Any]
) -> None:
    """Close the run with its status and summary."""
    conn.execute(
        update(_runs)
        .where(_runs.c.id == run_id)
        .values(status=status, finished_at=now, summary=summary)
    )


def result_rows(
    run_id: int | None,
    channel_id: int,
    start_tick: int,
    interval_minutes: int,
    positions: np.ndarray,
    check: str,
    outcome: str,
    message: str,
) -> list[dict[str, Any]]:
    """The ``vee_result`` rows of one step's finding in one channel."""
    ticks = start_tick + np.flatnonzero(positions) * (interval_minutes * US_PER_MINUTE)
    text = message[:MESSAGE_LENGTH] if message else None
    return [
        {
            "run_id": run_id,
            "channel_id": channel_id,
            "ts": tick,
            "check_name": check,
            "outcome": outcome,
            "message": text,
        }
        for tick in ticks.tolist()
    ]


def insert_results(conn: Any, rows: Iterable[dict[str, Any]]) -> int:
    """Insert result rows in bulk; how many."""
    batch = list(rows)
    if batch:
        conn.execute(insert(validation_result), batch)
    return len(batch)
