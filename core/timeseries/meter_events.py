"""Meter events (event logs, status changes): one row per channel, time and event code."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from meterhub.errors import InvalidValue
from meterhub.timeseries import inputs
from meterhub.timeseries.channels import of_kind
from meterhub.timeseries.registers import tick_array
from meterhub.timeseries.results import EventData, WriteReport
from meterhub.timeseries.timegrid import resolve_tz, to_tick

if TYPE_CHECKING:
    from meterhub.timeseries.transaction import Transaction

T = TypeVar("T")


class MeterEvents:
    """Writes and reads of meter events (a part of the store's facade and of a unit of work)."""

    def _run(self, work: Callable[[Transaction], T], write: bool = True) -> T:
        raise NotImplementedError

    def write_events(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        times: Sequence[datetime] | np.ndarray,
        codes: Sequence[int] | np.ndarray,
        values: Sequence[float | None] | np.ndarray | None = None,
        *,
        tz: str | tzinfo | None = None,
    ) -> WriteReport:
        """Store meter events: parallel 1-D arrays (channel, time, event code, optional value).

        An event already stored (same channel, time and code) is not stored again.
        """
        zone = resolve_tz(tz)
        ids = inputs.channel_ids(channel_ids, allow_duplicates=True)
        ticks = tick_array(times, zone, "times", ids.size)
        code_arr = np.asarray(codes)
        if code_arr.shape != ids.shape or not np.issubdtype(code_arr.dtype, np.integer):
            raise InvalidValue("codes", f"need {ids.size} integer event codes")
        if values is None:
            vals = np.full(ids.size, np.nan)
        else:
            vals = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            if vals.shape != ids.shape:
                raise InvalidValue("values", f"need {ids.size} values or None")
            if np.isinf(vals).any():
                raise InvalidValue("values", "infinite values are not accepted")

        def work(tx: Transaction) -> WriteReport:
            now = tx.now()
            of_kind(tx.infos(ids), "event", "an event log")
            tx.lock(ids)
            seen = {
                (int(r[0]), int(r[1]), int(r[2]))
                for r in tx.run.fetch(
                    "events",
                    {"t0": int(ticks.min()), "t1": int(ticks.max()) + 1},
                    ids=sorted(set(ids.tolist())),
                )
            }
            rows = []
            for c, tick, code, v in zip(
                ids.tolist(), ticks.tolist(), code_arr.tolist(), vals.tolist(), strict=True
            ):
                if (c, tick, code) in seen:
                    continue
                seen.add((c, tick, code))
                rows.append((c, tick, code, None if np.isnan(v) else v, now))
            tx.run.bulk_insert("ts_event", rows)
            return WriteReport(raw_new=len(rows), raw_identical=ids.size - len(rows))

        return self._run(work)

    def read_events(
        self,
        channel_ids: Sequence[int] | np.ndarray,
        start: datetime,
        end: datetime,
        *,
        tz: str | tzinfo | None = None,
    ) -> EventData:
        """Events of ``channel_ids`` in ``[start, end)``."""
        zone = resolve_tz(tz)
        ids = inputs.channel_ids(channel_ids)
        t0, t1 = to_tick(start, zone, "start"), to_tick(end, zone, "end")

        def work(tx: Transaction) -> list[Any]:
            tx.infos(ids)
            return tx.run.fetch("events", {"t0": t0, "t1": t1}, ids=ids.tolist())

        rows = self._run(work, write=False)
        cols = list(zip(*rows, strict=True)) if rows else [()] * 4
        return EventData(
            channel_ids=np.array(cols[0], dtype=np.int64),
            times=np.array(cols[1], dtype=np.int64).astype("datetime64[us]"),
            codes=np.array(cols[2], dtype=np.int64),
            values=np.array([np.nan if v is None else v for v in cols[3]], dtype=np.float64),
        )
