"""Prometheus metrics of a real engine run, scraped from the web app's ``/metrics`` (the embedded
demo's way: the engine runs in the web process) and parsed with prometheus_client's parser."""

from __future__ import annotations

import time

import prometheus_client
from acquisition_helpers import wait_run
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select

from meterhub.db import transaction
from meterhub.inventory import jobs
from meterhub.model.tasks import Task
from meterhub.webapi.app import create_app


def _run(runtime, name, meter_ids, actions, **options) -> int:
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session, name=name, actions=list(actions), meters=meter_ids, user="alice", **options
        )
        return jobs.run_job(session, job, user="alice").id


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """``{(sample name, sorted labels): value}`` of an exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _scrape(client) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.content_type.startswith("text/plain; version=0.0.4")
    return samples(response.get_data(as_text=True))


def test_metrics_of_an_engine_run_through_the_web_app(runtime, make_fleet, start_engine):
    good = make_fleet(2)
    bad = make_fleet(1, settings={"unreachable": "true"})
    app = create_app(runtime=runtime)
    client = app.test_client()  # no login: scrapers do not log in
    before = _scrape(client)
    assert before[("meterhub_acquisition_engine_running", ())] == 0
    assert ("meterhub_acquisition_tasks_queued", ()) not in before
    run_id = _run(
        runtime, "metrics", good.meter_ids + bad.meter_ids, ["read_registers"],
        max_attempts=2, retry_delay=1, retry_backoff=1.0,
    )  # fmt: skip
    start_engine()
    assert wait_run(runtime, run_id).tasks_failed == 1
    with runtime.sessions() as session:
        stored = sum(
            task.details.get("values", 0)
            for task in session.scalars(select(Task).where(Task.run_id == run_id))
            if task.details
        )
    found = _scrape(client)
    assert found[("meterhub_acquisition_engine_running", ())] == 1
    assert found[("meterhub_acquisition_tasks_succeeded_total", ())] == 2
    assert found[("meterhub_acquisition_tasks_failed_total", (("error_class", "link"),))] == 1
    assert found[("meterhub_acquisition_tasks_retried_total", (("error_class", "link"),))] == 1
    duration = "meterhub_acquisition_session_duration_seconds"
    assert found[(f"{duration}_count", (("outcome", "succeeded"),))] == 2
    assert found[(f"{duration}_count", (("outcome", "failed"),))] == 2
    assert found[(f"{duration}_bucket", (("le", "+Inf"), ("outcome", "failed")))] == 2
    assert stored == 2 and found[("meterhub_acquisition_values_stored_total", ())] == stored
    assert found[("meterhub_acquisition_batch_commit_seconds_count", ())] >= 2
    assert found[("meterhub_acquisition_tasks_queued", ())] == 0
    assert found[("meterhub_acquisition_tasks_running", ())] == 0
    pool = (("pool", "default"),)
    assert found[("meterhub_acquisition_line_pool_capacity", pool)] == 64
    assert found[("meterhub_acquisition_line_pool_in_use", pool)] == 0
    # the runtime's own registry: nothing in prometheus_client's global one
    assert "meterhub_acquisition" not in prometheus_client.generate_latest().decode()


def test_gauges_show_a_session_in_progress(make_runtime, listener, make_fleet, start_engine):
    runtime = make_runtime(listener, acquisition_default_capacity=1)  # one line
    fleet = make_fleet(2, settings={"latency": "1.0"})  # on the same database
    run_id = _run(runtime, "slow", fleet.meter_ids, ["read_clock"])
    start_engine(runtime)
    client = create_app(runtime=runtime).test_client()
    deadline = time.monotonic() + 30
    seen = None
    while time.monotonic() < deadline:
        found = _scrape(client)
        if found.get(("meterhub_acquisition_sessions_running", ()), 0) == 1:
            seen = found
            break
        time.sleep(0.02)
    assert seen is not None, "no session was seen running"
    pool = (("pool", "default"),)
    assert seen[("meterhub_acquisition_line_pool_in_use", pool)] == 1
    assert seen[("meterhub_acquisition_line_pool_capacity", pool)] == 1
    assert seen[("meterhub_acquisition_tasks_running", ())] == 1
    assert seen[("meterhub_acquisition_tasks_queued", ())] == 1  # the other meter waits a line
    wait_run(runtime, run_id)
