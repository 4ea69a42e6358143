"""Trying a script on sample data before it is saved or activated: what ``meterhub script
test`` and the REST API's ``POST /api/v1/scripts/{id}/test`` do.

A **sample** is plain data: ``start`` (aware), ``interval`` (minutes), ``values``, ``flags``,
``history`` (values before ``start``), ``inputs`` (named series of a calculation script),
``parameters`` and ``channel`` (facts a script may read). :func:`sample_from_json` builds one
from the JSON form (``{"start": "2026-03-02T00:00:00Z", "interval": 15, "values": [...],
...}``, ``null`` for a missing value); :func:`run_trial` runs a compiled script on it in the
sandbox's worker, with its limits, and returns what the script found.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.sandbox.policy import CompiledScript
from meterhub.sandbox.worker import Limits, run_jobs

__all__ = ["Trial", "run_trial", "sample_from_json"]

#: The most slots a sample may have (a year of 5-minute values).
MAX_SAMPLE_SLOTS = 366 * 288


def _instant(text: str, field_name: str) -> datetime:
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidValue(field_name, f"{text!r} is not an ISO 8601 time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _series(raw: Any, field_name: str) -> np.ndarray:
    if not isinstance(raw, list | tuple):
        raise InvalidValue(field_name, "must be a list of numbers (null for a missing value)")
    if len(raw) > MAX_SAMPLE_SLOTS:
        raise InvalidValue(field_name, f"at most {MAX_SAMPLE_SLOTS} values")
    try:
        return np.asarray([math.nan if v is None else float(v) for v in raw], float)
    except (TypeError, ValueError):
        raise InvalidValue(
            field_name, "must be a list of numbers (null for a missing value)"
        ) from None


def sample_from_json(raw: Any) -> dict[str, Any]:
    """A sample from its JSON form (see the module docstring); a wrong part is named."""
    if not isinstance(raw, dict):
        raise InvalidValue("data", "a JSON sample is an object with start, interval, values")
    start = _instant(str(raw.get("start", "1970-01-01T00:00:00Z")), "start")
    interval = raw.get("interval", 15)
    if isinstance(interval, bool) or not isinstance(interval, int) or not 1 <= interval <= 1440:
        raise InvalidValue("interval", f"must be whole minutes from 1 to 1440, not {interval!r}")
    values = _series(raw.get("values", []), "values")
    flags = raw.get("flags")
    inputs = raw.get("inputs", {})
    if not isinstance(inputs, dict):
        raise InvalidValue("inputs", "must be an object of named series")
    parameters, channel = raw.get("parameters", {}), raw.get("channel", {})
    for name, part in (("parameters", parameters), ("channel", channel)):
        if not isinstance(part, dict):
            raise InvalidValue(name, "must be an object")
    return {
        "start": start,
        "interval": interval,
        "values": values,
        "flags": np.zeros(values.size) if flags is None else _series(flags, "flags"),
        "history": _series(raw.get("history", []), "history"),
        "inputs": {str(k): _series(v, f"inputs.{k}") for k, v in inputs.items()},
        "parameters": dict(parameters),
        "channel": dict(channel),
    }


@dataclass
class Trial:
    """What a script did with a sample: ``ok`` or the ``error`` (script and line), the slot
    times, its results per slot and what it noted or printed."""

    ok: bool
    error: str | None = None
    line: int | None = None
    times: list[str] = field(default_factory=list)
    values: list[float | None] = field(default_factory=list)
    result: list[float | None] | None = None
    suspect: list[int] = field(default_factory=list)
    estimated: list[int] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    printed: str = ""
    seconds: float = 0.0


def _plain(values: np.ndarray) -> list[float | None]:
    return [None if math.isnan(v) else float(v) for v in values.tolist()]


def run_trial(
    script: CompiledScript,
    sample: dict[str, Any],
    *,
    country: str | None = None,
    tz: str = "UTC",
    limits: Limits | None = None,
) -> Trial:
    """Run ``script`` on ``sample`` in the sandbox (day types of ``country`` in zone ``tz``)."""
    from meterhub.timeseries.timegrid import to_tick
    from meterhub.vee.daytypes import DayTypes, slot_calendar

    interval = int(sample["interval"])
    values = sample["values"]
    start: datetime = sample["start"]
    history = sample["history"]
    step = timedelta(minutes=interval)
    begin = start - step * history.size
    day_types = DayTypes(country, None, None, tz)
    calendar = slot_calendar(
        to_tick(begin, UTC, "start"), history.size + values.size, interval, day_types
    )
    times = np.asarray([(start + step * i).timestamp() for i in range(values.size)])
    job = {
        **{k: sample[k] for k in ("values", "flags", "history", "inputs", "parameters", "channel")},
        "times": times,
        "day": calendar.day,
        "day_type": calendar.day_type,
        "minute": calendar.minute,
        "interval": interval,
        "missing": np.isnan(values).astype(float),
    }
    if not values.size and sample["inputs"]:
        job["length"] = len(next(iter(sample["inputs"].values())))
    (outcome,) = run_jobs(script, [job], limits or Limits())
    if not outcome.ok:
        return Trial(
            ok=False,
            error=outcome.error or "the script failed",
            line=outcome.line,
            printed=outcome.printed,
            seconds=outcome.seconds,
        )
    result = outcome.result
    count = values.size or int(job.get("length", 0))
    computed = result["values"]
    return Trial(
        ok=True,
        times=[(start + step * i).isoformat() for i in range(count)],
        values=_plain(values),
        result=None if computed is None else _plain(np.asarray(computed, float)),
        suspect=np.flatnonzero(result["suspect"]).tolist(),
        estimated=np.flatnonzero(result["estimated"]).tolist(),
        reasons=list(result["reasons"]),
        notes=list(result["notes"]),
        printed=outcome.printed,
        seconds=outcome.seconds,
    )
