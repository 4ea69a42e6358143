"""Helpers of the acquisition tests (imported by name: the tests directory is on sys.path)."""

from __future__ import annotations

import time
from collections.abc import Callable

from sqlalchemy import select

from meterhub.model.jobs import JobRun
from meterhub.runtime import Runtime


def wait_run(runtime: Runtime, run_id: int, timeout: float = 30.0) -> JobRun:
    """Wait until run ``run_id`` has ended; return it."""
    deadline = time.monotonic() + timeout
    while True:
        with runtime.sessions() as session:
            run = session.scalars(select(JobRun).where(JobRun.id == run_id)).one()
            if run.finished_at is not None:
                return run
        if time.monotonic() > deadline:
            raise AssertionError(f"run {run_id} did not end in {timeout} s (status {run.status})")
        time.sleep(0.05)


def wait_until(
    check: Callable[[], object], what: str = "the condition", timeout: float = 10.0
) -> None:
    """Wait until ``check()`` is true; fail naming ``what``. The plugins hear a batch's events
    after its commit, in the writer's thread: a run seen ended in the database may not have
    been announced yet."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not happen in {timeout} s")
        time.sleep(0.02)
