"""The front page shows the last acquisition runs; ``make demo`` reads its fleet on a schedule."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from acquisition_helpers import wait_run
from script_fixtures import METERHUB

from meterhub.db import transaction
from meterhub.inventory import jobs, roles, users
from meterhub.webapi.app import create_app


def test_the_front_page_lists_the_last_runs(runtime, make_fleet, start_engine) -> None:
    fleet = make_fleet(2, group="front")
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session, name="Morning read", actions=["read_clock"], groups=["front"]
        )
        run_id = jobs.run_job(session, job, user="alice").id
    start_engine()
    wait_run(runtime, run_id)
    with transaction(runtime.sessions, user="test") as session:
        user = users.add_user(session, "viewer", "Front-Page-2026")
        roles.grant_role(session, user, roles.ensure_administrator_role(session))
    browser = create_app(runtime=runtime).test_client()
    secure = "https://localhost"  # the login cookie is Secure by default
    login = {"username": "viewer", "password": "Front-Page-2026"}
    assert browser.post("/api/v1/auth/login", json=login, base_url=secure).status_code == 200
    page = browser.get("/", base_url=secure).get_data(as_text=True)
    assert "Last acquisition runs" in page
    row = re.search(rf"<td>{run_id}</td><td>Morning read</td><td>alice</td>(.*?)</tr>", page, re.S)
    assert row is not None, page
    cells = re.findall(r"<td>(.*?)</td>", row.group(1))
    assert cells[2:] == ["succeeded", "2", "2", "0", "100 %"]
    assert len(fleet.meter_ids) == 2


def test_the_demo_reads_its_fleet_with_the_embedded_engine(tmp_path: Path, cli_env) -> None:
    command = [
        METERHUB,
        "demo",
        "--data-dir",
        str(tmp_path / "demo"),
        "--meters",
        "1",
        "--no-serve",
    ]
    result = subprocess.run(
        command, cwd=tmp_path, env=cli_env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "acquisition: 2 demo jobs every 5 minutes" in result.stdout
    runs = re.findall(r"run \d+ (\w+): (\d+) of (\d+) tasks succeeded", result.stdout)
    assert len(runs) == 2, result.stdout
    for status, succeeded, total in runs:
        assert status == "succeeded" and succeeded == total and int(total) > 0, result.stdout
