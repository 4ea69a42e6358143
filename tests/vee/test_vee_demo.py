"""The demo fleet is validated at ingest and by its scheduled profile: gaps appear and are
filled by interpolation, with the flags visible through the store."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select

from meterhub.credential_keys import open_cipher
from meterhub.db import transaction
from meterhub.demo import DEMO_NIGHTLY_PROFILE, populate_demo
from meterhub.extensions.simulator import SimulatedEndpoint
from meterhub.model.metering import Channel
from meterhub.runtime import Runtime
from meterhub.timeseries import EstimationMethod, Flag
from meterhub.timeseries.flags import method_of


def test_demo_fleet_validated_at_ingest_and_by_the_nightly_profile(runtime: Runtime) -> None:
    endpoints = [
        SimulatedEndpoint(
            serial=f"SIM-{i:04d}", driver="simulated", medium="tcp", address=f"127.0.0.1:{4059 + i}"
        )
        for i in range(3)
    ]
    cipher = open_cipher(runtime.settings.effective_credential_key_file, runtime.sessions)
    with transaction(runtime.sessions, user="demo") as session:
        populate_demo(
            session, endpoints, runtime.plugins.drivers(), cipher, catalog=runtime.plugins
        )
    with runtime.sessions() as session:
        ids = list(
            session.scalars(
                select(Channel.id).where(Channel.obis == "1-0:1.29.0*255").order_by(Channel.id)
            )
        )
    assert len(ids) == 3
    start = datetime(2026, 6, 1, 22, tzinfo=UTC)  # local midnight in Prague (summer time)
    rng = np.random.default_rng(5)
    values = np.round(200 + 100 * rng.random((3, 96 * 3)))  # Wh per quarter-hour
    values[1, 7] = -40  # negative: flagged inside the ingest transaction
    present = np.ones(values.shape, dtype=bool)
    present[0, 100:104] = False  # a gap of an hour
    runtime.store.write_intervals(ids, start, values, present=present)
    end = start + timedelta(days=3)
    flags = runtime.store.read_intervals(ids, start, end).flags
    assert flags[1, 7] & Flag.SUSPECT
    report = runtime.vee.run_scheduled(DEMO_NIGHTLY_PROFILE, now=end)
    assert report.status == "succeeded"
    assert report.by_step["ingest checks"] == 1 and report.values_estimated == 5
    data = runtime.store.read_intervals(ids, start, end)
    filled = data.values[0, 100:104]
    expected = np.linspace(values[0, 99], values[0, 104], 6)[1:-1]
    np.testing.assert_allclose(filled, expected)
    assert all(
        method_of(int(f)) == EstimationMethod.LINEAR_INTERPOLATION for f in data.flags[0, 100:104]
    )
    assert ((data.flags[~np.isnan(data.values)] & Flag.VALIDATED) != 0).all()
    # what the ingest checks found is kept by the nightly run, and its estimator replaced it
    assert data.flags[1, 7] & Flag.SUBSTITUTED and data.flags[1, 7] & Flag.ESTIMATED
    assert data.values[1, 7] == (values[1, 6] + values[1, 8]) / 2
