"""Chains: plugins start work after acquisition (``readings_stored``, ``task_finished``,
``job_finished``), in that order, each after its data is committed."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from acquisition_helpers import wait_run

from meterhub import hookimpl
from meterhub.db import transaction
from meterhub.extensions.events import FinishedJob, FinishedTask
from meterhub.inventory import jobs
from meterhub.runtime import Runtime
from meterhub.timeseries import Flag


class ValidateAfterAcquisition:
    """A chain plugin: when a reading job ends, flag every value it stored as validated."""

    def __init__(self) -> None:
        self.runtime: Runtime | None = None
        self.pending: dict[tuple[int, ...], tuple[datetime, datetime]] = {}
        self.order: list[str] = []
        self.validated = threading.Event()

    @hookimpl
    def task_finished(self, task: FinishedTask) -> None:
        self.order.append("task_finished")

    @hookimpl
    def readings_stored(self, channel_ids, start: datetime, end: datetime, kind: str) -> None:
        self.order.append(f"readings_stored:{kind}")
        if kind == "raw":
            self.pending[tuple(channel_ids)] = (start, end)

    @hookimpl
    def job_finished(self, job: FinishedJob) -> None:
        self.order.append("job_finished")
        assert self.runtime is not None
        store = self.runtime.store
        for channels, (start, end) in self.pending.items():
            data = store.read_intervals(list(channels), start, end)
            store.write_normalized(
                list(channels), start, flags=data.flags | Flag.VALIDATED,
                user="chain", reason="validated after acquisition", kind="validated",
            )  # fmt: skip
        self.pending.clear()
        self.validated.set()


def test_a_plugin_validates_what_a_job_stored(make_runtime, make_fleet, start_engine) -> None:
    chain = ValidateAfterAcquisition()
    runtime = make_runtime(chain)
    chain.runtime = runtime
    fleet = make_fleet(2)
    profile = {"action": "read_load_profile", "parameters": {"range": "previous_day"}}
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(session, name="chain", actions=[profile], meters=fleet.meter_ids)
        run = jobs.run_job(session, job, user="alice")
    start_engine(runtime)
    finished = wait_run(runtime, run.id)
    # the run is finished in the database before the engine announces it: wait for the hook
    assert chain.validated.wait(30)
    channel = fleet.channels[(fleet.virtual_meter_ids[0], "1-0:1.29.0*255")]
    day = finished.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
    data = runtime.store.read_intervals([channel], day - timedelta(days=1), day)
    assert ((data.flags & Flag.VALIDATED) != 0).all()
    # the store fires after its commit, then the engine announces the tasks and the run
    assert chain.order == [
        "readings_stored:raw",
        "task_finished",
        "task_finished",
        "job_finished",
        "readings_stored:validated",
    ]
