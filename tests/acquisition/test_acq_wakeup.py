"""A run started by another process wakes the coordinator at once on PostgreSQL (``NOTIFY``),
instead of waiting for its next look at the database."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import sessionmaker

from meterhub.acquisition.runs import RUNS
from meterhub.acquisition.wakeup import RunListener
from meterhub.db import make_engine, transaction
from meterhub.inventory import jobs
from meterhub.runtime import Runtime


def _wait(check: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, "not reached in time"
        time.sleep(0.01)
    return time.monotonic() - started


def _start_run(url: str, meter_ids: list[int]) -> int:
    """A run started as another process would: its own engine, its own connection."""
    other = make_engine(url)
    try:
        with transaction(sessionmaker(other), user="alice") as session:
            job = jobs.create_job(session, name="quick", actions=["read_clock"], meters=meter_ids)
            return jobs.run_job(session, job, user="alice").id
    finally:
        other.dispose()


def test_a_run_started_elsewhere_wakes_the_coordinator_at_once(
    runtime: Runtime,
    make_fleet: Callable[..., Any],
    start_engine: Callable[..., Any],
    backend: str,
    database_url: str,
) -> None:
    fleet = make_fleet(1)
    engine = start_engine(poll_seconds=30)  # without the notification: 30 s
    assert engine._run_listener is not None
    if backend != "postgresql":  # NOTIFY is PostgreSQL's; other databases are only polled
        assert engine._run_listener._thread is None
        return
    _wait(engine._run_listener.listening.is_set, 10)
    run_id = _start_run(database_url, fleet.meter_ids)

    def ended() -> bool:
        with runtime.engine.connect() as connection:
            status = connection.execute(
                select(RUNS.c.status).where(RUNS.c.id == run_id)
            ).scalar_one()
        return status in ("succeeded", "failed")

    assert _wait(ended, 10) < 10
    assert engine._run_listener.received >= 1


def test_the_listener_does_nothing_on_other_databases(runtime: Runtime, backend: str) -> None:
    listener = RunListener(runtime.engine, lambda: None).start()
    try:
        if backend == "postgresql":
            _wait(listener.listening.is_set, 10)
        else:
            assert listener._thread is None
    finally:
        listener.stop()
