"""Meter data answers: columnar JSON, CSV and Parquet, built from numpy arrays directly.

No Python object is made per value except in the JSON lists themselves; CSV and Parquet are
written by pyarrow from the arrays (long form: one row per channel and slot).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from flask import Response

from meterhub.timeseries import IntervalData

PARQUET_TYPE = "application/vnd.apache.parquet"
CSV_TYPE = "text/csv"


def float_list(values: np.ndarray) -> list[float | None]:
    """A float array as a JSON list, ``NaN`` as ``null``."""
    listed: list[float | None] = values.tolist()
    if np.isnan(values).any():
        return [None if value != value else value for value in listed]
    return listed


def _iso_list(times: np.ndarray) -> list[str | None]:
    text = np.datetime_as_string(times.astype("datetime64[us]"), unit="us", timezone="UTC")
    return [None if value == "NaT" else value for value in text.tolist()]


def interval_json(data: IntervalData) -> dict[str, Any]:
    """Interval data as a columnar JSON object."""
    first = None
    if data.slots:  # only the first label: one datetime, not one per slot
        tick = data.utc_times()[:1].astype("datetime64[us]").astype(np.int64)[0]
        moment = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=int(tick))
        first = moment.astimezone(data.tz).isoformat()
    channels = []
    for row, channel_id in enumerate(data.channel_ids.tolist()):
        # numpy rows as they are: orjson writes them (NaN as null) without a Python float each
        series: dict[str, Any] = {
            "id": channel_id,
            "unit": data.units[row],
            "values": np.ascontiguousarray(data.values[row]),
            "flags": np.ascontiguousarray(data.flags[row]),
        }
        if data.conflict is not None:
            series["conflict"] = np.ascontiguousarray(data.conflict[row])
        channels.append(series)
    return {
        "start": first,
        "interval_minutes": data.interval_minutes,
        "slots": data.slots,
        "tz": str(data.tz),
        "label": data.label,
        "layer": data.layer,
        "as_of": data.as_of.isoformat() if data.as_of is not None else None,
        "channels": channels,
    }


def interval_table(data: IntervalData) -> pa.Table:
    """Interval data in long form: channel_id, time (UTC), value, flags."""
    channels, slots = data.values.shape
    times = data.utc_times()
    return pa.table(
        {
            "channel_id": pa.array(np.repeat(data.channel_ids.astype(np.int64), slots)),
            "time": pa.array(np.tile(times, channels), type=pa.timestamp("us", tz="UTC")),
            "value": pa.array(data.values.reshape(-1), from_pandas=True),
            "flags": pa.array(data.flags.reshape(-1).astype(np.uint32)),
        }
    )


def columns_table(columns: dict[str, np.ndarray]) -> pa.Table:
    """Parallel arrays (times as ``datetime64``) as an Arrow table."""
    arrays = {}
    for name, values in columns.items():
        if np.issubdtype(values.dtype, np.datetime64):
            arrays[name] = pa.array(
                values.astype("datetime64[us]"), type=pa.timestamp("us", tz="UTC")
            )
        elif np.issubdtype(values.dtype, np.floating):
            arrays[name] = pa.array(values, from_pandas=True)
        else:
            arrays[name] = pa.array(values)
    return pa.table(arrays)


def columns_json(columns: dict[str, np.ndarray]) -> dict[str, list[Any]]:
    """Parallel arrays as JSON lists (times ISO 8601 in UTC, NaN/NaT as null)."""
    result: dict[str, list[Any]] = {}
    for name, values in columns.items():
        if np.issubdtype(values.dtype, np.datetime64):
            result[name] = _iso_list(values)
        elif np.issubdtype(values.dtype, np.floating):
            result[name] = float_list(values)
        else:
            result[name] = values.tolist()
    return result


def table_response(table: pa.Table, fmt: str, filename: str) -> Response:
    """``table`` as a CSV or Parquet download."""
    buffer = io.BytesIO()
    if fmt == "parquet":
        pq.write_table(table, buffer)
        mimetype = PARQUET_TYPE
    else:
        pa_csv.write_csv(table, buffer)
        mimetype = CSV_TYPE
    response = Response(buffer.getvalue(), mimetype=mimetype)
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}.{fmt}"'
    return response


def json_response(payload: dict[str, Any]) -> Response:
    """A JSON answer written by orjson, numpy arrays included (``NaN`` becomes ``null``),
    without marshmallow: the arrays are large."""
    return Response(
        orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY), mimetype="application/json"
    )


def as_array(values: Sequence[Any]) -> np.ndarray:
    """A request's nested list as a float64 array (``null`` → ``NaN``)."""
    return np.array([[np.nan if v is None else v for v in row] for row in values], dtype=np.float64)
