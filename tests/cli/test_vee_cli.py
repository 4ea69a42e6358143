"""``meterhub script test|save`` and ``meterhub vee run`` as a user runs them."""

from __future__ import annotations

from pathlib import Path

from script_fixtures import Run


def test_script_test_refuses_a_script_that_does_not_compile(meterhub: Run, tmp_path: Path) -> None:
    script = tmp_path / "bad.py"
    script.write_text("x = 1\nimport os\n", encoding="utf-8")
    sample = tmp_path / "sample.csv"
    sample.write_text("time,value\n2026-03-02T00:00:00Z,1\n", encoding="utf-8")
    result = meterhub("script", "test", str(script), "--data", str(sample))
    assert result.returncode == 1
    assert (
        result.stderr.strip()
        == f"Error: {script}: line 2: import is not allowed: scripts get their data from "
        "'data' and the functions MeterHub offers"
    )


def test_script_test_names_the_line_of_a_stopped_script(meterhub: Run, tmp_path: Path) -> None:
    script = tmp_path / "loop.py"
    script.write_text("n = 0\nwhile True:\n    n += 1\n", encoding="utf-8")
    sample = tmp_path / "sample.json"
    sample.write_text('{"values": [1, 2, 3]}', encoding="utf-8")
    result = meterhub("script", "test", str(script), "--data", str(sample), "--cpu", "0.5")
    assert result.returncode == 1
    assert "script 'loop.py', line" in result.stderr and "CPU time limit of 0.5 s" in result.stderr


def test_script_save_and_vee_run(
    meterhub_here: Run, tmp_path: Path, empty_database_url: str
) -> None:
    database = {"METERHUB_DATABASE_URL": empty_database_url}
    assert meterhub_here("init", **database).returncode == 0
    script = tmp_path / "spikes.py"
    script.write_text("result.flag(data.values > 2, 'high')\n", encoding="utf-8")
    saved = meterhub_here("script", "save", "spikes", str(script), "--purpose", "check", **database)
    assert saved.returncode == 0, saved.stderr
    assert saved.stdout.strip() == "script spikes saved as version 1"
    script.write_text("import os\n", encoding="utf-8")
    refused = meterhub_here("script", "save", "spikes", str(script), **database)
    assert refused.returncode == 1 and "source: line 1: import is not allowed" in refused.stderr
    missing = meterhub_here(
        "vee", "run", "nightly", "--from", "2026-03-01", "--to", "2026-03-02", **database
    )
    assert missing.returncode == 1 and "no validation profile 'nightly'" in missing.stderr
    usage = meterhub_here("vee", "run", "nightly", **database)
    assert usage.returncode == 2 and "give --from and --to, or --scheduled" in usage.stderr
