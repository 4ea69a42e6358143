"""``meterhub script``: test a customer script on sample data, and save scripts (versioned).

``meterhub script test FILE --data SAMPLE`` needs no database: it compiles the script under the
sandbox's rules (a refusal names the line and the reason), runs it in the sandbox's worker with
its limits on the sample (CSV or JSON), prints what it found and a chart-friendly summary
(CSV: time, value, result, suspect, estimated; or everything as JSON with ``--json``).

Sample files:

- **CSV**: a header line; the first column the slot start (ISO 8601, UTC unless it has an
  offset), then ``value`` (the channel's values), optionally ``flags``, and any other column
  as a named input of a calculation script. ``--history-days N`` takes the first N days as
  history (``data.history``) rather than values.
- **JSON**: ``{"start": "2026-03-02T00:00:00Z", "interval": 15, "values": [...],
  "flags": [...], "history": [...], "inputs": {"flow": [...]}, "parameters": {...}}``.
"""

from __future__ import annotations

import csv
import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from meterhub.cli.group import CommandFailed
from meterhub.cli.state import current_state
from meterhub.errors import InvalidValue

__all__ = ["load_sample", "script_group"]


def _instant(text: str) -> datetime:
    value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _number(text: str) -> float:
    return math.nan if text.strip() in ("", "nan", "NaN") else float(text)


def load_sample(path: Path, history_days: int = 0) -> dict[str, Any]:
    """The sample file as a job of the sandbox (start, interval, values, inputs, ...)."""
    import numpy as np

    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".json":
        from meterhub.sandbox.trial import sample_from_json

        return sample_from_json(json.loads(text))
    rows = list(csv.reader(text.splitlines()))
    if len(rows) < 2:
        raise InvalidValue("data", "a CSV sample needs a header line and at least one row")
    header = [h.strip() for h in rows[0]]
    body = [r for r in rows[1:] if r and any(c.strip() for c in r)]
    try:
        times = [_instant(r[0]) for r in body]
        columns = {
            name: np.asarray([_number(r[i]) for r in body]) for i, name in enumerate(header) if i
        }
    except (ValueError, IndexError) as error:
        raise InvalidValue("data", f"cannot read the CSV sample: {error}") from None
    interval = int((times[1] - times[0]).total_seconds() // 60) if len(times) > 1 else 15
    cut = history_days * 1440 // interval if history_days else 0
    values = columns.pop("value", np.full(len(times), math.nan))
    flags = columns.pop("flags", np.zeros(len(times)))
    return {
        "start": times[cut] if cut < len(times) else times[0],
        "interval": interval,
        "values": values[cut:],
        "flags": flags[cut:],
        "history": values[:cut],
        "inputs": {k: v[cut:] for k, v in columns.items()},
        "parameters": {},
        "channel": {},
    }


@click.group("script")
def script_group() -> None:
    """Customer scripts: test them on sample data, save them (versioned)."""


@script_group.command("test")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--data",
    "sample_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Sample data: CSV or JSON.",
)
@click.option("--param", "params", multiple=True, help="A parameter as NAME=VALUE (repeatable).")
@click.option(
    "--history-days",
    type=click.IntRange(0, 400),
    default=0,
    help="Leading days of a CSV sample that are history.",
)
@click.option("--country", default=None, help="Country of the holidays for like days (ISO 3166-1).")
@click.option("--tz", default="UTC", show_default=True, help="Zone of the local days.")
@click.option(
    "--cpu", type=click.FloatRange(0.1, 600), default=10.0, show_default=True, help="CPU seconds."
)
@click.option(
    "--memory", type=click.IntRange(16, 65536), default=512, show_default=True, help="Memory in MB."
)
@click.option("--json", "as_json", is_flag=True, help="Print everything as one JSON object.")
def test_command(
    file: Path,
    sample_path: Path,
    params: tuple[str, ...],
    history_days: int,
    country: str | None,
    tz: str,
    cpu: float,
    memory: int,
    as_json: bool,
) -> None:
    """Run FILE on sample data in the sandbox and print its findings and a summary."""
    import numpy as np

    from meterhub.sandbox import Limits, compile_script
    from meterhub.sandbox.trial import run_trial

    current_state()
    try:
        script = compile_script(file.read_text(encoding="utf-8"), file.name)
    except InvalidValue as error:
        raise CommandFailed(f"{file}: {error.reason}") from None
    sample = load_sample(sample_path, history_days)
    for item in params:
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"{item!r} is not NAME=VALUE", param_hint="--param")
        try:
            sample["parameters"][name.strip()] = json.loads(value)
        except json.JSONDecodeError:
            sample["parameters"][name.strip()] = value
    trial = run_trial(
        script,
        sample,
        country=country,
        tz=tz,
        limits=Limits(cpu_seconds=cpu, wall_seconds=cpu * 2 + 1, memory_mb=memory),
    )
    if not trial.ok:
        raise CommandFailed(trial.error or "the script failed")
    values = sample["values"]
    start: datetime = sample["start"]
    count = len(trial.times)
    stamps = trial.times
    suspect, estimated = trial.suspect, trial.estimated
    computed = (
        None
        if trial.result is None
        else np.asarray([math.nan if v is None else v for v in trial.result], float)
    )
    if as_json:
        click.echo(
            json.dumps(
                {
                    "script": file.name,
                    "times": stamps,
                    "values": [None if math.isnan(v) else v for v in values.tolist()],
                    "result": trial.result,
                    "suspect": suspect,
                    "estimated": estimated,
                    "reasons": trial.reasons,
                    "notes": trial.notes,
                    "printed": trial.printed,
                    "seconds": round(trial.seconds, 6),
                }
            )
        )
        return
    click.echo(
        f"script {file.name}: {count} intervals from {start.isoformat()}, "
        f"ran in {trial.seconds * 1000:.1f} ms"
    )
    click.echo(
        f"  suspect: {len(suspect)}" + (f" ({'; '.join(trial.reasons)})" if trial.reasons else "")
    )
    for i in suspect[:20]:
        shown = "" if not values.size else f" value {values[i]:g}"
        click.echo(f"    {stamps[i]}{shown}")
    if len(suspect) > 20:
        click.echo(f"    ... and {len(suspect) - 20} more")
    click.echo(f"  estimated: {len(estimated)}")
    if computed is not None:
        present = computed[~np.isnan(computed)]
        total = f"{present.sum():g}" if present.size else "none"
        click.echo(f"  result: {present.size} values, sum {total}")
    for note in trial.notes:
        click.echo(f"  note: {note}")
    if trial.printed:
        click.echo("  printed:")
        for line in trial.printed.splitlines()[:20]:
            click.echo(f"    {line}")
    click.echo("summary (CSV for charts):")
    click.echo("time,value,result,suspect,estimated")
    suspect_set, estimated_set = set(suspect), set(estimated)
    for i in range(count):
        value = "" if not values.size or math.isnan(values[i]) else f"{values[i]:g}"
        res = "" if computed is None or math.isnan(computed[i]) else f"{computed[i]:g}"
        click.echo(f"{stamps[i]},{value},{res},{int(i in suspect_set)},{int(i in estimated_set)}")


@script_group.command("save")
@click.argument("name")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--purpose",
    type=click.Choice(["check", "estimate", "calculate"]),
    default=None,
    help="Needed on the first save.",
)
@click.option("--note", default=None, help="Why this version.")
def save_command(name: str, file: Path, purpose: str | None, note: str | None) -> None:
    """Save FILE as the next version of script NAME (refused unless it compiles)."""
    from meterhub.db import transaction
    from meterhub.inventory.scripts import save_script

    runtime = current_state().runtime()
    with transaction(runtime.sessions, user="cli") as session:
        row = save_script(
            session, name, file.read_text(encoding="utf-8"), purpose=purpose, note=note, user="cli"
        )
        version = row.version
    click.echo(f"script {name} saved as version {version}")
