"""``meterhub job``, ``tasks``, ``trace``, ``firmware``, ``acquire``: the installed command."""

from __future__ import annotations

import json
import re

import pytest


def _error(result) -> str:
    """The one line a failed command ends with (the log may say something before it)."""
    lines = result.stderr.strip().splitlines()
    assert lines and all(not line.startswith("Traceback") for line in lines)
    return lines[-1]


@pytest.fixture
def run(meterhub, database_url):
    """The installed command in a process of its own, on the test database."""

    def call(*args: str):
        return meterhub(*args, METERHUB_DATABASE_URL=database_url)

    return call


@pytest.fixture
def run_here(meterhub_here, database_url):
    """The command's ``main()`` in this process, on the test database (for what a command does)."""

    def call(*args: str):
        return meterhub_here(*args, METERHUB_DATABASE_URL=database_url)

    return call


def test_add_run_and_inspect_a_job_from_the_command_line(run_here, runtime, make_fleet) -> None:
    fleet = make_fleet(2, paths=[{"settings": {"unreachable": "true"}}, {}])
    serial = fleet.serials[0]
    added = run_here(
        "job", "add", "profiles", "--action", "read_load_profile?range=previous_day",
        "--action", "read_clock", "--meter", serial, "--meter", fleet.serials[1],
        "--attempts", "1",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "job profiles added (id" in added.stdout and "on_demand" in added.stdout
    listed = run_here("job", "list")
    assert "profiles" in listed.stdout and "read_load_profile,read_clock" in listed.stdout
    started = run_here("job", "run", "profiles", "--wait")
    assert started.returncode == 0, started.stderr
    run_id = re.search(r"run (\d+) started: 4 tasks", started.stdout).group(1)
    assert "running it here" in started.stderr  # no engine was running: a foreground one
    assert f"run {run_id} succeeded: 4 tasks, 4 succeeded, 0 failed" in started.stdout
    tasks = run_here("tasks", "--run", run_id)
    assert tasks.returncode == 0, tasks.stderr
    assert tasks.stdout.count("succeeded") == 4 and "backup" in tasks.stdout
    listed = [
        json.loads(line)
        for line in run_here("tasks", "--json", "--meter", serial).stdout.split("\n")
        if line
    ]
    profile = next(t for t in listed if t["action"] == "read_load_profile")
    assert profile["details"]["values"] == 192 and profile["path"] == 2
    trace = run_here("trace", str(profile["id"]))
    assert trace.returncode == 0, trace.stderr
    assert "path 1" in trace.stdout and "failed link" in trace.stdout
    assert "path 2" in trace.stdout and "succeeded" in trace.stdout
    quick = run_here("job", "run", "--quick", serial, "--action", "set_clock?tolerance=0")
    assert quick.returncode == 0, quick.stderr
    assert "succeeded: 1 tasks, 1 succeeded" in quick.stdout


def test_bad_jobs_and_unknown_things_fail_in_one_line(run_here, runtime, make_fleet) -> None:
    fleet = make_fleet(1)
    bad = run_here("job", "add", "x", "--action", "read_mind", "--meter", fleet.serials[0])
    assert bad.returncode == 1
    assert _error(bad).startswith("Error: actions[0].action: unknown action 'read_mind'; known:")
    rule = run_here("job", "add", "x", "--action", "read_clock", "--meter", fleet.serials[0],
               "--rrule", "FREQ=NEVER")  # fmt: skip
    assert (
        rule.returncode == 1 and "recurrence: 'FREQ=NEVER' is not an RFC 5545 rule" in rule.stderr
    )
    meter = run_here("job", "add", "x", "--action", "read_clock", "--meter", "GHOST")
    assert (
        meter.returncode == 1 and "meters[0]: no meter with serial number 'GHOST'" in meter.stderr
    )
    assert _error(run_here("job", "run", "nothing")).startswith("Error: no job 'nothing'")
    assert _error(run_here("trace", "999")).startswith("Error: no task 999")
    assert run_here("job", "run").returncode == 2


def test_cancel_a_queued_run_and_run_the_engine_for_a_while(
    run, run_here, runtime, make_fleet
) -> None:
    fleet = make_fleet(1)
    assert (
        run_here(
            "job", "add", "later", "--action", "read_clock", "--meter", fleet.serials[0]
        ).returncode
        == 0
    )
    from meterhub.db import transaction
    from meterhub.inventory import jobs

    with transaction(runtime.sessions, user="alice") as session:
        queued = jobs.run_job(session, "later", user="alice").id
        second = jobs.run_job(session, "later", user="alice").id
    cancelled = run_here("job", "cancel", "--run", str(queued))
    assert cancelled.returncode == 0 and f"cancelled: run {queued}" in cancelled.stdout
    engine = run("acquire", "--for", "1.5")
    assert engine.returncode == 0, engine.stderr
    assert "acquisition engine" in engine.stderr and "stopped" in engine.stderr
    with runtime.sessions() as session:
        first = jobs.run_progress(session, queued)
        other = jobs.run_progress(session, second)
    assert (first["status"], first["cancelled"]) == ("cancelled", 1)
    assert (other["status"], other["succeeded"]) == ("succeeded", 1)
    again = run_here("job", "cancel", "--run", str(queued))
    assert again.returncode == 1 and "has already ended (cancelled)" in again.stderr


def test_firmware_images_from_files(run_here, runtime, tmp_path) -> None:
    image = tmp_path / "fw.bin"
    image.write_bytes(b"\x00\x01" * 1000)
    added = run_here("firmware", "add", "acme", "1.2", str(image))
    assert added.returncode == 0, added.stderr
    assert "firmware acme 1.2: 2000 bytes, sha256 " in added.stdout
    wrong = run_here("firmware", "add", "acme", "1.3", str(image), "--sha256", "ab" * 32)
    assert wrong.returncode == 1 and "sha256: the image's SHA-256 is" in wrong.stderr
    assert "acme" in run_here("firmware", "list").stdout


def test_acquire_listens_for_meters_that_call_in(run, runtime) -> None:
    engine = run("acquire", "--for", "1", "--listen", "127.0.0.1:0")
    assert engine.returncode == 0, engine.stderr
    assert re.search(r"listening for meters that call in on 127\.0\.0\.1:\d+", engine.stderr)
    wrong = run("acquire", "--for", "1", "--listen", "4059")
    assert wrong.returncode != 0
    assert "--listen: must be HOST:PORT with a port 0..65535, got '4059'" in _error(wrong)


def test_stats_of_the_sessions_per_level(run_here, runtime, make_fleet) -> None:
    fleet = make_fleet(2, paths=[{"settings": {"unreachable": "true"}}, {}])
    assert run_here("job", "add", "stat", "--action", "read_clock", "--meter", fleet.serials[0],
               "--meter", fleet.serials[1]).returncode == 0  # fmt: skip
    started = run_here("job", "run", "stat", "--wait")
    assert started.returncode == 0, started.stderr
    summary = [json.loads(line) for line in run_here("stats", "--json").stdout.splitlines()]
    assert sum(row["attempts"] for row in summary) == 4
    assert sum(row["successes"] for row in summary) == 2
    assert sum(row["failures"].get("link", 0) for row in summary) == 2
    assert sum(row["failovers"] for row in summary) == 2
    assert {row["level"] for row in summary} == {"summary"}
    table = run_here("stats", "--level", "path", "--bucket", "day")
    assert table.returncode == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:4] == ["day", "(UTC)", "id", "name"]
    assert sum(f"{serial} main" in t for t in lines for serial in fleet.serials) == 2
    assert sum(f"{serial} backup 1" in t for t in lines for serial in fleet.serials) == 2
    assert sum("link 1" in line for line in lines) == 2
    key = fleet.virtual_meter_ids[0]
    one = run_here(
        "stats", "--level", "virtual-meter", "--key", str(key), "--json", "--since", "2h"
    )
    rows = [json.loads(line) for line in one.stdout.splitlines()]
    assert {row["key"] for row in rows} == {key} and sum(r["attempts"] for r in rows) == 2
    assert rows[0]["name"] == "point 0 / main"
    empty = run_here("stats", "--since", "2020-01-01T00:00", "--until", "2020-01-02T00:00")
    assert empty.stdout.strip() == "no sessions since 2020-01-01 00:00 UTC"
    bad = run_here("stats", "--since", "yesterday")
    assert _error(bad) == (
        "Error: since: 'yesterday' is neither a time (2026-12-01T00:00) nor an age (24h, 7d)"
    )
    assert run_here("stats", "--level", "meter").returncode == 2


def test_acquire_serves_its_metrics_on_a_port(runtime, cli_env, database_url, tmp_path) -> None:
    import socket
    import subprocess
    import time

    import httpx
    from prometheus_client.parser import text_string_to_metric_families
    from script_fixtures import METERHUB

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = cli_env | {"METERHUB_DATABASE_URL": database_url}
    process = subprocess.Popen(
        [METERHUB, "acquire", "--for", "60", "--workers", "2", "--metrics-port", str(port)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        text = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
                text = response.text
                if "meterhub_acquisition_engine_running 1.0" in text:
                    break
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        assert text is not None, process.stderr.read() if process.poll() is not None else ""
        samples = {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text)
            for s in family.samples
        }
        assert samples[("meterhub_acquisition_engine_running", ())] == 1
        assert samples[("meterhub_acquisition_line_pool_capacity", (("pool", "default"),))] == 64
        assert samples[("meterhub_acquisition_tasks_succeeded_total", ())] == 0
    finally:
        process.terminate()  # SIGTERM: the engine stops and the server closes
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert f"metrics at http://127.0.0.1:{port}/metrics" in stderr
    assert "acquisition engine stopped" in stderr
