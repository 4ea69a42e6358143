"""The plan cache loads the plans of expected meters ahead of their sessions, and the engine sets
the interpreter for many threads while it runs."""

from __future__ import annotations

import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest
from acquisition_helpers import wait_until
from sqlalchemy import event

from meterhub.acquisition import books, interpreter
from meterhub.acquisition.books import PlanCache
from meterhub.acquisition.plans import PoolTable
from meterhub.runtime import Runtime


def _cache(runtime: Runtime, *, limit: int = 1000) -> PlanCache:
    return PlanCache(runtime.engine, lambda: PoolTable(8), {}, 1000, limit=limit)


def _count_meter_queries(runtime: Runtime) -> list[str]:
    seen: list[str] = []

    def before(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "FROM meter " in statement or "FROM meter\n" in statement:
            seen.append(statement)

    event.listen(runtime.engine, "before_cursor_execute", before)
    return seen


def test_expected_plans_are_loaded_before_they_are_asked_for(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    fleet = make_fleet(5)
    cache = _cache(runtime)
    queries = _count_meter_queries(runtime)
    cache.start()
    try:
        cache.expect(fleet.meter_ids)
        wait_until(lambda: len(queries) >= 1)
        wait_until(lambda: not cache._upcoming and len(cache._ahead) == 5)
        loaded = len(queries)
        plans = [cache.get(meter_id) for meter_id in fleet.meter_ids]
    finally:
        cache.stop()
    assert [plan.serial for plan in plans if plan is not None] == fleet.serials
    assert len(queries) == loaded, "a session waited for a query the prefetch had made"
    assert not cache._ahead


def test_the_channels_of_plans_loaded_ahead_are_warmed_in_the_store(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    fleet = make_fleet(3)
    warmed: list[list[int]] = []

    def warm(ids: list[int]) -> object:
        warmed.append(ids)
        return runtime.store.channel_info(ids)

    cache = PlanCache(runtime.engine, lambda: PoolTable(8), {}, 1000, warm=warm)
    cache.start()
    try:
        cache.expect(fleet.meter_ids)
        wait_until(lambda: len(cache._ahead) == 3 and bool(warmed))
    finally:
        cache.stop()
    assert sorted(i for ids in warmed for i in ids) == sorted(fleet.channels.values())
    queries: list[str] = []
    event.listen(runtime.engine, "before_cursor_execute", lambda *args: queries.append(args[2]))
    infos = runtime.store.channel_info(sorted(fleet.channels.values()))  # cached: no query
    assert [info.id for info in infos] == sorted(fleet.channels.values()) and not queries


def test_the_thread_warms_the_channels_of_plans_a_session_loaded_too(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    fleet = make_fleet(3)
    warmed: list[list[int]] = []
    cache = PlanCache(runtime.engine, lambda: PoolTable(8), {}, 1000, warm=warmed.append)
    cache.start()
    try:
        cache.get(fleet.meter_ids[0])  # a miss, in this thread: not warmed here
        cache.expect(fleet.meter_ids[1:])
        wait_until(
            lambda: sorted(i for ids in warmed for i in ids) == sorted(fleet.channels.values())
        )
    finally:
        cache.stop()


def test_plans_are_loaded_ahead_even_when_their_channels_cannot_be_warmed(
    runtime: Runtime, make_fleet: Callable[..., Any], caplog: pytest.LogCaptureFixture
) -> None:
    fleet = make_fleet(4)
    tried: list[list[int]] = []

    def warm(ids: list[int]) -> object:
        tried.append(ids)
        raise RuntimeError("the database went away")

    cache = PlanCache(runtime.engine, lambda: PoolTable(8), {}, 1000, warm=warm)
    cache._ahead_limit = 2
    cache.start()
    try:
        cache.expect(fleet.meter_ids)
        wait_until(lambda: len(cache._ahead) == 2 and len(tried) == 1)
        for meter_id in fleet.meter_ids[:2]:
            cache.get(meter_id)
        wait_until(lambda: set(cache._ahead) == set(fleet.meter_ids[2:]))  # the next ones too
    finally:
        cache.stop()
    assert len(tried) == 2
    # said as what it is, not as plans that failed to load
    warnings = [r.getMessage() for r in caplog.records if r.name == "meterhub.acquisition.books"]
    assert warnings == ["the facts of 8 channels were not loaded ahead: the database went away"] * 2


def test_prefetch_stops_at_its_limit_and_goes_on_as_plans_are_taken(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    fleet = make_fleet(6)
    cache = _cache(runtime)
    cache._ahead_limit = 2  # a small cache: two plans ahead at most
    cache.start()
    try:
        cache.expect(fleet.meter_ids)
        wait_until(lambda: len(cache._ahead) == 2)
        time.sleep(0.2)
        assert len(cache._ahead) == 2 and len(cache._upcoming) == 4
        for meter_id in fleet.meter_ids:
            plan = cache.get(meter_id)
            assert plan is not None and plan.meter_id == meter_id
        wait_until(lambda: not cache._upcoming)
    finally:
        cache.stop()


def test_a_miss_loads_at_once_without_the_thread(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    fleet = make_fleet(3)
    cache = _cache(runtime)  # not started
    cache.expect(fleet.meter_ids[1:])
    plan = cache.get(fleet.meter_ids[0])
    assert plan is not None and plan.serial == fleet.serials[0]
    # the next expected meters came with the miss
    assert set(cache._ahead) == set(fleet.meter_ids[1:])
    assert cache.get(10_000_000) is None


def test_plans_loaded_ahead_are_not_evicted_before_they_are_asked_for(
    runtime: Runtime, make_fleet: Callable[..., Any]
) -> None:
    first, *ahead, other, last = make_fleet(5).meter_ids
    cache = _cache(runtime)  # not started: only misses load
    cache._limit, cache._ahead_limit = 3, 2
    cache.expect(ahead)
    cache.get(first)  # loads the two expected ones ahead
    cache.get(other)
    cache.get(last)  # five plans for three places: the asked-for ones go, oldest first
    assert set(cache._plans) == {*ahead, last}
    queries = _count_meter_queries(runtime)
    assert [plan.meter_id for plan in map(cache.get, ahead) if plan is not None] == ahead
    assert not queries, "a plan loaded ahead was evicted before its session asked for it"


def test_a_miss_loads_no_more_ahead_than_there_is_room_for(
    runtime: Runtime, make_fleet: Callable[..., Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    meter_ids = make_fleet(6).meter_ids
    cache = _cache(runtime)
    cache._ahead_limit = 2
    cache.expect(meter_ids[1:])
    cache.get(meter_ids[0])
    assert list(cache._ahead) == meter_ids[1:3] and list(cache._upcoming) == meter_ids[3:]
    cache.get(meter_ids[5])  # out of order, no room ahead: the meter alone
    assert list(cache._ahead) == meter_ids[1:3] and list(cache._upcoming) == meter_ids[3:]
    # plans ahead nobody asked for stop holding the room after a while
    monkeypatch.setattr(books, "AHEAD_STALE", 0.0)
    with cache._lock:
        assert cache._room() == 2
    assert not cache._ahead and set(cache._plans) == {*meter_ids[:3], meter_ids[5]}


def test_invalidated_plans_are_read_again(runtime: Runtime, make_fleet: Callable[..., Any]) -> None:
    fleet = make_fleet(2)
    cache = _cache(runtime)
    cache.expect(fleet.meter_ids)
    cache.get(fleet.meter_ids[0])
    cache.invalidate([fleet.meter_ids[1]])
    assert fleet.meter_ids[1] not in cache._ahead
    queries = _count_meter_queries(runtime)
    assert cache.get(fleet.meter_ids[1]) is not None
    assert len(queries) == 1


def test_the_engine_tunes_the_interpreter_while_it_runs(start_engine: Callable[..., Any]) -> None:
    before = (sys.getswitchinterval(), gc.get_threshold())
    engine = start_engine()
    try:
        wanted = engine.runtime.settings.acquisition_switch_interval
        assert sys.getswitchinterval() == pytest.approx(wanted)
        assert gc.get_threshold()[0] == engine.runtime.settings.acquisition_gc_threshold
        assert gc.get_freeze_count() > 0
    finally:
        engine.stop()
    assert (sys.getswitchinterval(), gc.get_threshold()) == before
    assert gc.get_freeze_count() == 0


def test_tuning_is_undone_when_the_last_user_restores() -> None:
    before = (sys.getswitchinterval(), gc.get_threshold())
    first = interpreter.tune(0.02, 10_000)
    second = interpreter.tune(0.03, 20_000)
    first()
    first()  # twice is once
    assert sys.getswitchinterval() == pytest.approx(0.03)
    second()
    assert (sys.getswitchinterval(), gc.get_threshold()) == before
    keep = interpreter.tune(0.04, 0)  # 0: the collector is left alone
    try:
        assert gc.get_threshold() == before[1]
    finally:
        keep()
