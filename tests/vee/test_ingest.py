"""On-the-fly validation: limit checks of at-ingest profiles flag values inside the ingest
transaction, in the same (first) version, and record each failed value."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from sqlalchemy import func, select
from vee_fixtures import DAY0, Fleet, profile_values

from meterhub.db import transaction
from meterhub.errors import InvalidValue
from meterhub.inventory.vee import assign_profile, create_profile
from meterhub.model.vee import ValidationRun, validation_result
from meterhub.runtime import Runtime
from meterhub.timeseries import Flag, MeterDataStore
from meterhub.vee import IngestValidation


def _ingest_profile(runtime: Runtime, group: str, overrides: dict | None = None) -> None:
    with transaction(runtime.sessions, user="t") as session:
        profile = create_profile(
            session,
            "limits at ingest",
            [
                {"kind": "check", "name": "limits", "parameters": {"min": 0, "max": 1.0}},
                {"kind": "check", "name": "max_energy", "parameters": {"max_power": 3.0}},
                {"kind": "check", "name": "negative"},
            ],
            runtime.plugins,
            at_ingest=True,
        )
        assign_profile(session, profile, runtime.plugins, group=group, overrides=overrides)


def test_limits_flag_values_in_the_first_version(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(2, group="ingest")
    _ingest_profile(runtime, "ingest")
    # a store without the VEE listener: only what the ingest transaction did is visible
    store = MeterDataStore(runtime.engine, ingest_check=IngestValidation(runtime.plugins))
    values = profile_values(1, channels=2)
    values[0, 5] = 1.2  # above max (and 1.2 kWh > 3 kW × 0.25 h = 0.75 kWh)
    values[1, 7] = 0.9  # above max_energy (0.75 kWh per quarter-hour) only
    values[1, 9] = -0.1  # negative and below min
    report = store.write_intervals(ids, DAY0, values)
    assert report.normalized_versions == 2  # one version per block: no second version
    data = store.read_intervals(ids, DAY0, DAY0 + timedelta(days=1))
    suspect = (data.flags & Flag.SUSPECT) != 0
    assert np.flatnonzero(suspect[0]).tolist() == [5]
    assert np.flatnonzero(suspect[1]).tolist() == [7, 9]
    assert all(len(store.versions(c, DAY0, DAY0 + timedelta(days=1))) == 1 for c in ids)
    with runtime.engine.connect() as conn:
        rows = conn.execute(
            select(validation_result.c.channel_id, validation_result.c.check_name).order_by(
                validation_result.c.channel_id,
                validation_result.c.ts,
                validation_result.c.check_name,
            )
        ).all()
    expected = [
        (ids[0], "limits"),
        (ids[0], "max_energy"),
        (ids[1], "max_energy"),
        (ids[1], "limits"),
        (ids[1], "negative"),
    ]
    assert sorted(tuple(r) for r in rows) == sorted(expected)


def test_a_customers_own_limit_overrides_the_profile(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(2, group="custom")
    _ingest_profile(runtime, "custom")
    with transaction(runtime.sessions, user="t") as session:
        from meterhub.inventory.vee import profile_by_name

        profile = profile_by_name(session, "limits at ingest")
        assign_profile(
            session, profile, runtime.plugins, channel=ids[1], overrides={"limits": {"max": 0.3}}
        )
    store = MeterDataStore(runtime.engine, ingest_check=IngestValidation(runtime.plugins))
    values = np.full((2, 4), 0.4)
    store.write_intervals(ids, DAY0, values)
    data = store.read_intervals(ids, DAY0, DAY0 + timedelta(hours=1))
    assert not ((data.flags[0] & Flag.SUSPECT) != 0).any()
    assert ((data.flags[1] & Flag.SUSPECT) != 0).all()


def test_channels_without_a_profile_are_not_touched(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    store = MeterDataStore(runtime.engine, ingest_check=IngestValidation(runtime.plugins))
    store.write_intervals(ids, DAY0, np.array([[5.0, -3.0]]))
    data = store.read_intervals(ids, DAY0, DAY0 + timedelta(minutes=30))
    assert data.flags.tolist() == [[0, 0]]


def test_a_refused_write_leaves_no_results(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="refused")
    _ingest_profile(runtime, "refused")
    store = MeterDataStore(runtime.engine, ingest_check=IngestValidation(runtime.plugins))
    with pytest.raises(InvalidValue):
        store.write_intervals(ids, DAY0, np.array([[5.0, np.inf]]))
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(validation_result)).scalar() == 0


def test_the_runtime_store_validates_at_ingest(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1, group="rt")
    _ingest_profile(runtime, "rt")
    runtime.store.write_intervals(ids, DAY0, np.array([[0.2, 7.0, 0.3]]))
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + timedelta(minutes=45))
    assert ((data.flags[0] & Flag.SUSPECT) != 0).tolist() == [False, True, False]
    # the rest of the profile ran after the commit (validated flags)
    assert ((data.flags[0] & Flag.VALIDATED) != 0).all()


def test_a_profile_of_ingest_checks_only_is_done_in_the_ingest_transaction(
    runtime: Runtime, fleet: Fleet
) -> None:
    """No run after the commit and no second version: the ingest validated the values."""
    ids = fleet.channels(1, group="only")
    _ingest_profile(runtime, "only")
    present = np.array([[True, True, False, True]])
    runtime.store.write_intervals(ids, DAY0, np.array([[0.2, 7.0, 0.0, 0.3]]), present=present)
    end = DAY0 + timedelta(hours=1)
    data = runtime.store.read_intervals(ids, DAY0, end)
    assert ((data.flags[0] & Flag.SUSPECT) != 0).tolist() == [False, True, False, False]
    assert ((data.flags[0] & Flag.VALIDATED) != 0).tolist() == [True, True, False, True]
    assert len(runtime.store.versions(ids[0], DAY0, end)) == 1
    with runtime.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(ValidationRun)).scalar() == 0


def test_a_profile_with_more_than_ingest_checks_runs_after_the_commit(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(1, group="more")
    with transaction(runtime.sessions, user="t") as session:
        profile = create_profile(
            session,
            "limits and gaps",
            [
                {"kind": "check", "name": "limits", "parameters": {"min": 0, "max": 1.0}},
                {"kind": "check", "name": "gaps"},
                {"kind": "estimate", "name": "linear"},
            ],
            runtime.plugins,
            at_ingest=True,
        )
        assign_profile(session, profile, runtime.plugins, group="more")
    present = np.array([[True, True, False, True]])
    runtime.store.write_intervals(ids, DAY0, np.array([[0.2, 7.0, 0.0, 0.3]]), present=present)
    end = DAY0 + timedelta(hours=1)
    data = runtime.store.read_intervals(ids, DAY0, end)
    assert ((data.flags[0] & Flag.ESTIMATED) != 0).tolist() == [False, True, True, False]
    assert data.values[0].tolist() == pytest.approx([0.2, 0.2 + 0.1 / 3, 0.2 + 0.2 / 3, 0.3])
    assert len(runtime.store.versions(ids[0], DAY0, end)) == 2
    with runtime.engine.connect() as conn:
        runs = conn.execute(select(ValidationRun.trigger_kind, ValidationRun.status)).all()
    assert [tuple(r) for r in runs] == [("ingest", "succeeded")]
