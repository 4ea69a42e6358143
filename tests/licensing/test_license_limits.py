"""License limits where objects are created: the development license's, signed ones, concurrency.

Runs on the backend of the test run (SQLite or PostgreSQL). The concurrency tests race two real
threads, each with its own connection and transaction, for the last place a license allows:
both are held right after counting (a barrier in the engine's ``after_cursor_execute``), so
without a lock around the count both would see a free place and both would create.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, event, func, select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.config import load_settings
from meterhub.db import make_sessionmaker, transaction
from meterhub.errors import LicenseLimitExceeded
from meterhub.inventory.elements import create_element
from meterhub.inventory.metering import create_metering_point, create_virtual_meter
from meterhub.inventory.templates import create_template
from meterhub.inventory.users import add_user, disable_user, enable_user, get_user
from meterhub.model.metering import MeteringPoint, VirtualMeter
from meterhub.model.users import AppUser
from meterhub.runtime import build_runtime

DEVELOPMENT = "license development for Development (no license file)"

_points = count(1)


def new_point(factory: sessionmaker[Session]) -> int:
    """A metering point (with its template and element) to hang virtual meters on; its id."""
    n = next(_points)
    with transaction(factory, user="tester") as session:
        template = create_template(session, f"limit consumer {n}")
        element = create_element(session, template=template, name=f"limit element {n}")
        return create_metering_point(session, element=element, name=f"limit point {n}").id


def add_virtual_meters(factory: sessionmaker[Session], point_id: int, names: list[str]) -> None:
    with transaction(factory, user="tester") as session:
        point = session.get(MeteringPoint, point_id)
        assert point is not None
        for name in names:
            create_virtual_meter(session, metering_point=point, name=name)


def virtual_meter_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return session.scalar(select(func.count()).select_from(VirtualMeter)) or 0


def enabled_user_count(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        statement = select(func.count()).select_from(AppUser).where(AppUser.enabled.is_(True))
        return session.scalar(statement) or 0


# -- the development license ------------------------------------------------------------------


def test_a_session_without_a_license_has_the_development_limits(
    session_factory: sessionmaker[Session],
) -> None:
    point = new_point(session_factory)
    add_virtual_meters(session_factory, point, [f"vm{i}" for i in range(50)])
    with pytest.raises(LicenseLimitExceeded) as caught:
        add_virtual_meters(session_factory, point, ["vm50"])
    assert (
        str(caught.value) == f"{DEVELOPMENT} allows at most 50 virtual meters; this would make 51"
    )
    assert virtual_meter_count(session_factory) == 50

    with transaction(session_factory) as session:
        for i in range(5):
            add_user(session, f"user{i}", None)
    with pytest.raises(LicenseLimitExceeded, match="at most 5 named users; this would make 6"):
        with transaction(session_factory) as session:
            add_user(session, "user5", None)
    with transaction(session_factory) as session:
        disable_user(session, get_user(session, "user0"))
        add_user(session, "user5", None)  # a disabled user frees a place
    with pytest.raises(LicenseLimitExceeded, match="at most 5 named users"):
        with transaction(session_factory) as session:
            enable_user(session, get_user(session, "user0"))
    assert enabled_user_count(session_factory) == 5


def test_a_signed_license_lifts_the_development_limits(
    licensed_session_factory: sessionmaker[Session],
) -> None:
    point = new_point(licensed_session_factory)
    add_virtual_meters(licensed_session_factory, point, [f"vm{i}" for i in range(60)])
    with transaction(licensed_session_factory) as session:
        for i in range(8):
            add_user(session, f"user{i}", None)
    assert virtual_meter_count(licensed_session_factory) == 60
    assert enabled_user_count(licensed_session_factory) == 8


def test_removing_the_license_file_does_not_lift_the_limits(
    tmp_path: Path, database_url: str, engine: Engine, session_factory: Any, test_licenses: Any
) -> None:
    """Objects made under a signed license stay; without the file, no more can be added."""
    licensed = load_settings(
        data_dir=tmp_path, database_url=database_url, **test_licenses.settings()
    )
    runtime = build_runtime(licensed)
    try:
        point = new_point(runtime.sessions)
        add_virtual_meters(runtime.sessions, point, [f"vm{i}" for i in range(51)])
    finally:
        runtime.close()
    runtime = build_runtime(load_settings(data_dir=tmp_path, database_url=database_url))
    try:
        assert runtime.license.development
        with pytest.raises(LicenseLimitExceeded, match="at most 50 virtual meters"):
            add_virtual_meters(runtime.sessions, point, ["one more"])
    finally:
        runtime.close()
    assert virtual_meter_count(session_factory) == 51


# -- concurrency -------------------------------------------------------------------------------


@pytest.fixture
def held_after_counting(engine: Engine) -> Iterator[Callable[[str], None]]:
    """``hold(table)``: from now on, each thread counting rows of ``table`` waits for the other.

    Two threads that both count meet at a barrier and go on together, which is what happens
    without a lock. With the lock, the second thread cannot count before the first commits:
    the first waits out the barrier's timeout alone and goes on.
    """
    state: dict[str, Any] = {}

    def after_cursor_execute(*args: Any) -> None:
        statement = args[2].lower()
        table = state.get("table")
        if table and "count(" in statement and f"from {table}" in statement:
            try:
                state["barrier"].wait()
            except threading.BrokenBarrierError:
                pass

    def hold(table: str) -> None:
        state.update(table=table, barrier=threading.Barrier(2, timeout=1.5))

    event.listen(engine, "after_cursor_execute", after_cursor_execute)
    yield hold
    event.remove(engine, "after_cursor_execute", after_cursor_execute)


def race(factory: sessionmaker[Session], action: Callable[[Session, int], object]) -> list[str]:
    """Run ``action(session, i)`` in two threads at once, each in its own transaction."""
    outcomes = ["not finished", "not finished"]
    start = threading.Barrier(2, timeout=10)

    def run(i: int) -> None:
        try:
            start.wait()
            with transaction(factory, user=f"racer{i}") as session:
                action(session, i)
            outcomes[i] = "created"
        except LicenseLimitExceeded as exc:
            outcomes[i] = f"refused: {exc}"
        except Exception as exc:  # noqa: BLE001 - reported by the assertion
            outcomes[i] = f"error: {exc!r}"

    threads = [threading.Thread(target=run, args=(i,), name=f"racer{i}") for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    return sorted(outcomes)


def test_two_sessions_creating_the_last_virtual_meter_one_is_refused(
    session_factory: sessionmaker[Session],
    engine: Engine,
    test_licenses: Any,
    held_after_counting: Callable[[str], None],
) -> None:
    license = test_licenses.load(limits={"virtual_meters": 3})
    factory = make_sessionmaker(engine, license=license)
    point = new_point(factory)
    add_virtual_meters(factory, point, ["vm0", "vm1"])
    held_after_counting("virtual_meter")

    def create(session: Session, i: int) -> None:
        metering_point = session.get(MeteringPoint, point)
        assert metering_point is not None
        create_virtual_meter(session, metering_point=metering_point, name=f"racer{i}")

    created, refused = race(factory, create)
    assert created == "created"
    assert refused == (
        "refused: license TEST-1 for MeterHub test suite allows at most 3 virtual meters; "
        "this would make 4"
    )
    assert virtual_meter_count(factory) == 3


def test_two_sessions_adding_the_last_user_one_is_refused(
    session_factory: sessionmaker[Session],
    engine: Engine,
    test_licenses: Any,
    held_after_counting: Callable[[str], None],
) -> None:
    factory = make_sessionmaker(engine, license=test_licenses.load(limits={"named_users": 2}))
    with transaction(factory) as session:
        add_user(session, "first", None)
        add_user(session, "second", None)
        disable_user(session, get_user(session, "second"))
    held_after_counting("app_user")

    created, refused = race(factory, lambda session, i: add_user(session, f"racer{i}", None))
    assert created == "created"
    assert refused == (
        "refused: license TEST-1 for MeterHub test suite allows at most 2 named users; "
        "this would make 3"
    )
    assert enabled_user_count(factory) == 2

    # Enabling is counted the same way: "second" against the racer that got in.
    with transaction(factory) as session:
        disable_user(session, get_user(session, "first"))
    held_after_counting("app_user")

    def enable_or_add(session: Session, i: int) -> None:
        if i == 0:
            enable_user(session, get_user(session, "second"))
        else:
            add_user(session, "latecomer", None)

    created, refused = race(factory, enable_or_add)
    assert created == "created" and refused.startswith("refused: ")
    assert enabled_user_count(factory) == 2
