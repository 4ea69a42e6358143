from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from meterhub.errors import InvalidValue
from meterhub.timeseries import EstimationMethod, Flag, Formula, MeterDataStore
from meterhub.timeseries.flags import method_of, with_method

JAN = datetime(2026, 1, 1, tzinfo=UTC)
HOUR = JAN + timedelta(hours=1)


def test_as_of_after_several_overwrites(clocked_store: MeterDataStore, channels, clock) -> None:
    store = clocked_store
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0, 3.0, 4.0]])
    t1 = clock.advance(10)
    states = {}
    for n, reason in enumerate(["validation", "estimation", "manual"], start=1):
        clock.advance(10)
        store.write_normalized(
            [cid], JAN + timedelta(minutes=15), [[10.0 * n]], user=f"user{n}", reason=reason
        )
        states[n] = clock.advance(10)
    assert list(store.read_intervals([cid], JAN, HOUR, as_of=t1).values[0]) == [1, 2, 3, 4]
    for n, when in states.items():
        data = store.read_intervals([cid], JAN, HOUR, as_of=when)
        assert list(data.values[0]) == [1, 10.0 * n, 3, 4]
    # just before the first ingest there was nothing
    before = store.read_intervals([cid], JAN, HOUR, as_of=datetime(2026, 6, 1, 11, tzinfo=UTC))
    assert not before.present.any()
    versions = store.versions(cid, JAN, HOUR)
    assert [v.version for v in versions] == [1, 2, 3, 4]
    assert [v.reason for v in versions] == ["ingest", "validation", "estimation", "manual"]
    assert versions[-1].replaced_at is None and versions[0].replaced_at is not None


def test_restore_writes_the_old_state_as_a_new_version(
    clocked_store: MeterDataStore, channels, clock
) -> None:
    store = clocked_store
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0, 3.0, 4.0]])
    good = clock.advance(5)
    clock.advance(5)
    store.write_normalized([cid], JAN, [[9.0, 9.0]], user="bob", reason="manual")
    clock.advance(5)
    report = store.restore([cid], JAN, HOUR, good, user="alice", comment="undo bob")
    assert report.normalized_versions == 1
    assert list(store.read_intervals([cid], JAN, HOUR).values[0]) == [1, 2, 3, 4]
    versions = store.versions(cid, JAN, HOUR)
    assert [(v.version, v.user, v.reason, v.comment) for v in versions][-1] == (
        3,
        "alice",
        "restore",
        "undo bob",
    )
    history = store.value_history(cid, JAN)
    assert [(h.old_value, h.new_value, h.user) for h in history] == [
        (None, 1.0, "acquisition"),
        (1.0, 9.0, "bob"),
        (9.0, 1.0, "alice"),
    ]
    assert history[1].recorded_at < history[2].recorded_at


def test_restore_to_before_anything_existed_empties_the_range(
    clocked_store: MeterDataStore, channels, clock
) -> None:
    store = clocked_store
    (cid,) = channels(1)
    empty_time = clock.now
    clock.advance(5)
    store.write_intervals([cid], JAN, [[1.0, 2.0]])
    clock.advance(5)
    store.restore([cid], JAN, HOUR, empty_time, user="alice")
    assert not store.read_intervals([cid], JAN, HOUR).present.any()
    assert store.read_intervals([cid], JAN, HOUR, layer="raw").present.sum() == 2


def test_flags_estimation_method_and_filters(store: MeterDataStore, channels) -> None:
    a, b = channels(2)
    store.write_intervals([a, b], JAN, np.ones((2, 4)))
    flags = np.full((2, 4), int(Flag.VALIDATED), dtype=np.uint32)
    flags[0, 1] |= Flag.SUSPECT
    store.write_normalized([a, b], JAN, flags=flags, user="vee", reason="validation")
    estimated = with_method(
        Flag.VALIDATED | Flag.SUBSTITUTED, EstimationMethod.LINEAR_INTERPOLATION
    )
    store.write_normalized(
        [a], JAN + timedelta(minutes=30), [[5.0]], [[estimated]], user="vee", reason="estimation"
    )
    data = store.read_intervals([a, b], JAN, HOUR)
    assert list(data.values[0]) == [1, 1, 5, 1]
    assert method_of(int(data.flags[0, 2])) is EstimationMethod.LINEAR_INTERPOLATION
    suspect = store.read_intervals([a, b], JAN, HOUR, flags_any=Flag.SUSPECT)
    assert np.argwhere(suspect.present).tolist() == [[0, 1]]
    clean = store.read_intervals([a, b], JAN, HOUR, flags_none=Flag.SUSPECT | Flag.ESTIMATED)
    assert clean.present.sum() == 6
    validated = store.read_intervals([a, b], JAN, HOUR, flags_all=Flag.VALIDATED)
    assert validated.present.all()
    raw = store.read_intervals([a], JAN, HOUR, layer="raw")
    assert list(raw.values[0]) == [1, 1, 1, 1]  # edits never touch raw


def test_where_mask_changes_only_selected_slots(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1)
    store.write_intervals([cid], JAN, [[1.0, 2.0, 3.0, 4.0]])
    where = np.array([[False, True, False, True]])
    store.write_normalized([cid], JAN, np.full((1, 4), 7.0), where=where, user="u", reason="manual")
    assert list(store.read_intervals([cid], JAN, HOUR).values[0]) == [1, 7, 3, 7]


def test_normalization_on_ingest_and_recalculation(store: MeterDataStore, channels) -> None:
    a, b = channels(2, unit="Wh", scaler=0)
    store.define_formula(Formula("kWh CT 200/5", target_unit="kWh", ct=(200, 5)))
    store.assign_formula("kWh CT 200/5", [a])
    store.write_intervals([a, b], JAN, [[1234.0, 500.0], [1.0, 2.0]])
    data = store.read_intervals([a, b], JAN, JAN + timedelta(minutes=30))
    assert data.values[0].tolist() == [1234 * 40 / 1000, 500 * 40 / 1000]
    assert data.values[1].tolist() == [1.0, 2.0]
    assert data.units == ("kWh", "Wh")
    # an estimate made by hand survives recalculation; the rest follows the new formula
    store.write_normalized(
        [a],
        JAN + timedelta(minutes=15),
        [[99.0]],
        [[int(Flag.MANUAL)]],
        user="ann",
        reason="manual",
    )
    store.define_formula(Formula("kWh CT 200/5", target_unit="kWh", ct=(400, 5)))
    report = store.recalculate([a, b], JAN, JAN + timedelta(minutes=30), user="ann")
    assert report.normalized_versions == 1  # b unchanged: no new version
    after = store.read_intervals([a], JAN, JAN + timedelta(minutes=30))
    assert after.values[0].tolist() == [1234 * 80 / 1000, 99.0]
    full = store.recalculate([a], JAN, JAN + timedelta(minutes=30), user="ann", keep_edits=False)
    assert full.normalized_versions == 1
    assert store.read_intervals([a], JAN, JAN + timedelta(minutes=30)).values[0][1] == 40.0


def test_group_formula_and_demand_to_energy(
    store: MeterDataStore, channels, session_factory
) -> None:
    from meterhub.db import transaction
    from meterhub.inventory.groups import add_members, create_group
    from meterhub.model.metering import VirtualMeter

    a, b = channels(2, unit="kW")
    meters = channels.meters_of([a])
    store.define_formula(Formula("demand", demand_to_energy=True, target_unit="kWh"))
    with transaction(session_factory, user="t") as session:
        group = create_group(session, name="demand meters")
        add_members(session, group, [session.get(VirtualMeter, meters[0])])
        session.flush()
        group_id = group.id
    store.assign_group_formula("demand", group_id)
    store.write_intervals([a, b], JAN, [[4.0, 8.0], [4.0, 8.0]])
    data = store.read_intervals([a, b], JAN, JAN + timedelta(minutes=30))
    assert data.values.tolist() == [[1.0, 2.0], [4.0, 8.0]]
    assert data.units == ("kWh", "kW")


def test_pulse_channel(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1, unit="imp")
    store.define_formula(Formula("1000 imp/kWh", pulse_constant=1000, pulse_unit="kWh"))
    store.assign_formula("1000 imp/kWh", [cid])
    store.write_intervals([cid], JAN, [[250.0, 1250.0]])
    assert store.read_intervals([cid], JAN, JAN + timedelta(minutes=30)).values.tolist() == [
        [0.25, 1.25]
    ]


def test_formula_that_cannot_apply_is_refused(store: MeterDataStore, channels) -> None:
    (cid,) = channels(1, unit="Wh")
    store.define_formula(Formula("volts", target_unit="V"))
    with pytest.raises(InvalidValue, match="cannot convert"):
        store.assign_formula("volts", [cid])
    assert store.channel_info([cid])[0].formula is None
