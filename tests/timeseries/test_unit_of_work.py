"""A unit of work: many meters' profiles, registers, events and the caller's own rows in one
transaction, all or nothing."""

from datetime import UTC, datetime, timedelta

import numpy as np
import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue
from meterhub.inventory.groups import create_group
from meterhub.model.groups import MeterGroup
from meterhub.timeseries import Formula, MeterDataStore, UnitOfWork, UnitOfWorkFailed
from meterhub.timeseries.tables import ALL_TABLES

JAN = datetime(2026, 1, 1, tzinfo=UTC)
DAY = JAN + timedelta(days=1)


def counts(engine) -> dict[str, int]:
    with engine.connect() as connection:
        found = {
            table.name: connection.execute(select(func.count()).select_from(table)).scalar_one()
            for table in ALL_TABLES
        }
        found["meter_group"] = connection.execute(
            select(func.count()).select_from(MeterGroup)
        ).scalar_one()
    return found


@pytest.fixture
def fleet(channels) -> dict[str, list[int]]:
    return {
        "meter_a": channels(2),
        "meter_b": channels(2),
        "registers": channels(2, kind="register", obis="1-0:1.8.0*255"),
        "events": channels(1, kind="event", unit=None, obis="0-0:99.98.0*255"),
    }


def write_round(uow: UnitOfWork, fleet: dict[str, list[int]], group_name: str) -> None:
    """What one round of acquisition stores: two meters' profiles, registers, events, and a
    row of the caller's own (here a meter group, through an ORM session on the same
    connection)."""
    uow.write_intervals(fleet["meter_a"], JAN, np.ones((2, 96)))
    uow.write_intervals(fleet["meter_b"], JAN, np.full((2, 96), 2.0))
    uow.write_registers(fleet["registers"], [DAY, DAY], [1000.0, 2000.0])
    uow.write_events(fleet["events"], [JAN + timedelta(hours=3)], [17])
    with Session(bind=uow.connection) as session:
        create_group(session, name=group_name)
        session.flush()


def test_a_committed_unit_stores_everything(store: MeterDataStore, fleet) -> None:
    with store.unit_of_work() as uow:
        write_round(uow, fleet, "round 1")
        # reads inside the unit see its own writes
        inside = uow.read_intervals(fleet["meter_b"], JAN, DAY)
        assert inside.values.tolist() == [[2.0] * 96] * 2
    assert store.read_intervals(fleet["meter_a"], JAN, DAY).present.all()
    assert store.read_registers(
        fleet["registers"], JAN, DAY + timedelta(hours=1)
    ).values.tolist() == [
        1000.0,
        2000.0,
    ]
    assert store.read_events(fleet["events"], JAN, DAY).codes.tolist() == [17]
    assert counts(store.engine)["meter_group"] == 1


def test_an_error_in_the_third_write_leaves_nothing_of_the_first_two(
    store: MeterDataStore, fleet
) -> None:
    before = counts(store.engine)
    with pytest.raises(InvalidValue, match="not accepted"):
        with store.unit_of_work() as uow:
            uow.write_intervals(fleet["meter_a"], JAN, np.ones((2, 96)))
            uow.write_registers(fleet["registers"], [DAY, DAY], [1000.0, 2000.0])
            uow.write_intervals(fleet["meter_b"], JAN, [[1.0, np.nan], [1.0, 1.0]])
    assert counts(store.engine) == before


def test_an_error_after_the_caller_wrote_its_own_rows_undoes_them(
    store: MeterDataStore, fleet
) -> None:
    before = counts(store.engine)
    with pytest.raises(InvalidValue, match="not a register"):
        with store.unit_of_work() as uow:
            write_round(uow, fleet, "round 2")
            uow.write_registers(fleet["meter_a"][:1], [DAY], [1.0])
    assert counts(store.engine) == before


def test_a_failed_write_caught_by_the_caller_still_fails_the_unit(
    store: MeterDataStore, fleet
) -> None:
    store.define_formula(Formula("x40", ct=(200, 5)))
    store.assign_formula("x40", fleet["meter_b"])
    before = counts(store.engine)
    with pytest.raises(UnitOfWorkFailed, match="nothing of it was stored") as info:
        with store.unit_of_work() as uow:
            uow.write_intervals(fleet["meter_a"], JAN, np.ones((2, 96)))
            with pytest.raises(InvalidValue, match="beyond the range"):
                # refused inside the transaction (the overflow shows after the channel look-up)
                uow.write_intervals(fleet["meter_b"], JAN, np.full((2, 4), 1e308))
            with pytest.raises(UnitOfWorkFailed, match="earlier write"):
                uow.write_events(fleet["events"], [JAN], [1])
    assert isinstance(info.value.__cause__, InvalidValue)
    assert counts(store.engine) == before


def test_an_input_error_found_before_writing_keeps_the_unit_usable(
    store: MeterDataStore, fleet
) -> None:
    with store.unit_of_work() as uow:
        uow.write_intervals(fleet["meter_a"], JAN, np.ones((2, 4)))
        with pytest.raises(InvalidValue, match="not accepted"):
            uow.write_intervals(fleet["meter_b"], JAN, [[1.0, np.nan], [1.0, 1.0]])
        uow.write_intervals(fleet["meter_b"], JAN, np.ones((2, 4)))
    assert store.read_intervals(fleet["meter_a"] + fleet["meter_b"], JAN, DAY).present.sum() == 16


def test_a_unit_that_ended_refuses_more_writes(store: MeterDataStore, fleet) -> None:
    with store.unit_of_work() as uow:
        pass
    with pytest.raises(UnitOfWorkFailed, match="has ended"):
        uow.write_intervals(fleet["meter_a"], JAN, np.ones((2, 4)))


def test_changes_of_different_users_stay_apart(clocked_store: MeterDataStore, fleet, clock) -> None:
    store = clocked_store
    a = fleet["meter_a"][0]
    with store.unit_of_work() as uow:
        uow.write_intervals([a], JAN, [[1.0, 2.0]])
        uow.write_normalized([a], JAN, [[5.0]], user="ann", reason="manual", comment="typo")
    history = store.value_history(a, JAN)
    assert [(h.new_value, h.user, h.reason, h.comment) for h in history][-1] == (
        5.0,
        "ann",
        "manual",
        "typo",
    )
    versions = store.versions(a, JAN, DAY)
    assert [(v.user, v.reason) for v in versions] == [("acquisition", "ingest"), ("ann", "manual")]


def test_run_unit_of_work_returns_the_result(store: MeterDataStore, fleet) -> None:
    def work(uow: UnitOfWork) -> int:
        report = uow.write_intervals(fleet["meter_a"], JAN, np.ones((2, 8)))
        return report.raw_new

    assert store.run_unit_of_work(work) == 16
