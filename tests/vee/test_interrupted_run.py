"""A validation run killed half-way (a real subprocess, SIGKILL) leaves no half-written
versions, is marked interrupted by the next run, and the run again gives the same result as an
uninterrupted one."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import select
from vee_fixtures import DAY0, Fleet, profile_values

from meterhub.db import transaction
from meterhub.inventory.scripts import save_script
from meterhub.inventory.vee import create_profile
from meterhub.model.vee import ValidationRun
from meterhub.runtime import Runtime
from meterhub.timeseries import Flag

#: A check that takes a while per channel, so the run can be killed between batches.
SLOW_CHECK = """
n = 0
for i in range(150000):
    n += 1
result.flag(data.values > 0.45, "high")
"""

STEPS = [
    {"kind": "script_check", "name": "slow"},
    {"kind": "check", "name": "gaps"},
    {"kind": "check", "name": "spike", "parameters": {"factor": 3}},
    {"kind": "estimate", "name": "linear", "parameters": {"max_gap": 8}},
]

CHANNELS = 16


def _snapshot(runtime: Runtime, ids: list[int]) -> tuple[np.ndarray, np.ndarray]:
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(days=1))
    return data.values, data.flags


def test_a_killed_run_leaves_whole_versions_and_reruns_to_the_same_result(
    runtime: Runtime, fleet: Fleet, database_url: str, tmp_path: Path
) -> None:
    killed_ids = fleet.channels(CHANNELS)
    clean_ids = fleet.channels(CHANNELS)
    with transaction(runtime.sessions, user="t") as session:
        save_script(session, "slow", SLOW_CHECK, purpose="check")
        create_profile(session, "slow profile", STEPS, runtime.plugins)
    values = profile_values(1, seed=7, channels=CHANNELS)
    values[:, 20] = 3.0
    present = np.ones(values.shape, dtype=bool)
    present[:, 50:53] = False
    runtime.store.write_intervals(killed_ids, DAY0, values, present=present)
    runtime.store.write_intervals(clean_ids, DAY0, values, present=present)
    program = textwrap.dedent(
        f"""
        from datetime import datetime, timedelta, timezone
        from meterhub.config import load_settings
        from meterhub.runtime import build_runtime
        settings = load_settings(data_dir={str(tmp_path / "sub")!r}, database_url={database_url!r})
        runtime = build_runtime(settings)
        runtime.vee.batch_channels = 2
        start = datetime(2026, 3, 2, tzinfo=timezone.utc)
        end = start + timedelta(days=1)
        runtime.vee.run("slow profile", start, end, channel_ids={killed_ids!r})
        print("finished")
        """
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("METERHUB_")}
    process = subprocess.Popen(
        [sys.executable, "-c", program], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline:
            with runtime.engine.connect() as conn:
                row = conn.execute(
                    select(ValidationRun.channels_done, ValidationRun.status)
                ).first()
            done = row.channels_done if row is not None else 0
            if done >= 4:
                break
            assert process.poll() is None, process.stderr.read() if process.stderr else ""
            time.sleep(0.02)
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(10)
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
    assert 4 <= done < CHANNELS, "the run was not killed half-way"
    with runtime.engine.connect() as conn:
        run = conn.execute(select(ValidationRun.__table__)).one()
    assert run.status == "running" and run.finished_at is None
    # every channel is either untouched or completely validated: no half-written batch
    _, flags = _snapshot(runtime, killed_ids)
    validated = (flags & Flag.VALIDATED) != 0
    per_channel = validated.any(axis=1)
    assert per_channel.sum() == run.channels_done
    for row, channel in enumerate(killed_ids):
        versions = runtime.store.versions(channel, DAY0, DAY0 + timedelta(days=1))
        assert len(versions) == (2 if per_channel[row] else 1)
    # the next run marks the dead one interrupted and finishes the work
    report = runtime.vee.run("slow profile", DAY0, DAY0 + timedelta(days=1), channel_ids=killed_ids)
    assert report.status == "succeeded"
    with runtime.engine.connect() as conn:
        statuses = (
            conn.execute(select(ValidationRun.status).order_by(ValidationRun.id)).scalars().all()
        )
    assert statuses == ["interrupted", "succeeded"]
    runtime.vee.run("slow profile", DAY0, DAY0 + timedelta(days=1), channel_ids=clean_ids)
    killed_values, killed_flags = _snapshot(runtime, killed_ids)
    clean_values, clean_flags = _snapshot(runtime, clean_ids)
    np.testing.assert_array_equal(killed_values, clean_values)
    np.testing.assert_array_equal(killed_flags, clean_flags)
    assert ((killed_flags[:, 20] & Flag.ESTIMATED) != 0).all()
