"""The ``P.01`` load profile block, into a columnar :class:`LoadProfile`.

Header ``P.01(<end of first interval>)(status)(minutes)(channels)(code)(unit)…`` and one row of
``(value)`` groups per interval. Header layouts differ between makers; this one is documented
in ``docs/drivers/iec62056-21.md`` and produced by the simulator.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, tzinfo

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import LoadProfile, ProfileChannel, ProtocolError, Quality
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.iec62056_21.protocol import DataSet, number, parse_timestamp

__all__ = ["profile_from_block"]


def profile_from_block(
    datasets: list[DataSet], start: datetime, end: datetime, zone: tzinfo
) -> LoadProfile:
    """The intervals of a ``P.01`` answer ending in ``(start, end]``.

    :raises ProtocolError: a header or row that does not follow the layout.
    """
    if not datasets or datasets[0].address != "P.01" or datasets[0].is_error:
        return LoadProfile(timedelta(minutes=15), (), Quality.NOT_AVAILABLE)
    header = [value.text for value in datasets[0].values]
    try:
        first = parse_timestamp(header[0], zone)
        minutes, channels = int(header[2]), int(header[3])
        codes = [canonical_obis(header[4 + 2 * i], field="P.01") for i in range(channels)]
        units = [header[5 + 2 * i] or None for i in range(channels)]
    except (IndexError, ValueError, InvalidValue) as exc:
        raise ProtocolError(f"P.01 header not understood: {exc}") from None
    if first is None or minutes <= 0:
        raise ProtocolError("P.01 header without a valid time or interval")
    step = timedelta(minutes=minutes)
    ends: list[int] = []
    columns: list[list[tuple[int, int] | None]] = [[] for _ in codes]
    moment = first.astimezone(UTC)
    for row in datasets[1:]:
        if row.address or len(row.values) != channels:
            raise ProtocolError(f"P.01 row on line {row.line} does not have {channels} values")
        if start < moment <= end:
            ends.append(int(moment.timestamp()))
            for column, value in zip(columns, row.values, strict=True):
                column.append(number(value.text))
        moment += step
    stamps = np.array(ends, dtype=np.int64).astype("datetime64[s]")
    found = []
    for code, unit, column in zip(codes, units, columns, strict=True):
        # One scaler per channel: the finest the rows used, every mantissa scaled to it.
        scaler = min((parsed[1] for parsed in column if parsed is not None), default=0)
        values = np.array(
            [
                np.nan if parsed is None else parsed[0] * 10 ** (parsed[1] - scaler)
                for parsed in column
            ],
            dtype=np.float64,
        )
        found.append(
            ProfileChannel(code, unit, scaler, stamps, values, np.zeros(len(ends), np.uint32))
        )
    return LoadProfile(step, tuple(found))
