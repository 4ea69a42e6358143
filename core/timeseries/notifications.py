"""The events a write fires: collected while its transaction runs, fired once it has committed.

A store built with an event sink (``MeterDataStore(engine, notify=host.notify)``, which
:class:`meterhub.runtime.Runtime` does with its plugin host) calls the sink after every commit
that changed interval data:

* ``readings_stored(channel_ids, start, end, kind)`` — ``kind`` ``raw`` for
  ``write_intervals`` (new raw values or conflicting re-reads), or the ``kind`` given to
  ``write_normalized`` (``validated``, ``estimated``, ``calculated``);
* ``values_edited(channel_id, start, end, user, reason)`` — ``write_normalized`` with
  ``kind="manual"`` (the default), ``recalculate`` and ``restore``, one per channel changed.

``start`` and ``end`` bound the slots that changed (start of the first, end of the last) as
aware UTC datetimes. Within one transaction, a unit of work included, events are merged: per
kind (or per user and reason), each channel is reported once with the span of all its changes,
and channels with the same span share one ``readings_stored``. A rolled-back transaction fires
nothing. A sink that raises is logged; the write it reports on stays committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from meterhub.timeseries.timegrid import tick_to_datetime

log = logging.getLogger(__name__)

#: What the store calls after a commit: ``notify(event_name, **arguments)`` (the signature of
#: :meth:`meterhub.pluginhost.PluginHost.notify`).
EventSink = Callable[..., None]

Spans = dict[int, tuple[int, int]]


class Notices:
    """Events of one transaction, merged, waiting for its commit."""

    def __init__(self) -> None:
        self._stored: dict[str, Spans] = {}
        self._edited: dict[tuple[int, str, str], tuple[int, int]] = {}

    def readings_stored(self, kind: str, spans: Spans) -> None:
        """Channels whose ``kind`` values changed in the UTC tick spans ``spans``."""
        if not spans:
            return
        _merge(self._stored.setdefault(kind, {}), spans)

    def values_edited(self, user: str, reason: str, spans: Spans) -> None:
        """Channels edited by ``user`` for ``reason`` in the UTC tick spans ``spans``."""
        for channel, span in spans.items():
            key = (channel, user, reason)
            found = self._edited.get(key)
            self._edited[key] = span if found is None else _union(found, span)

    def __bool__(self) -> bool:
        return bool(self._stored or self._edited)

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """The merged events, in a stable order: ``(hook name, keyword arguments)``."""
        out: list[tuple[str, dict[str, Any]]] = []
        for kind in sorted(self._stored):
            by_span: dict[tuple[int, int], list[int]] = {}
            for channel, span in self._stored[kind].items():
                by_span.setdefault(span, []).append(channel)
            for (t0, t1), channels in sorted(by_span.items()):
                out.append(
                    (
                        "readings_stored",
                        {
                            "channel_ids": tuple(sorted(channels)),
                            "start": _utc(t0),
                            "end": _utc(t1),
                            "kind": kind,
                        },
                    )
                )
        for (channel, user, reason), (t0, t1) in sorted(self._edited.items()):
            out.append(
                (
                    "values_edited",
                    {
                        "channel_id": channel,
                        "start": _utc(t0),
                        "end": _utc(t1),
                        "user": user,
                        "reason": reason,
                    },
                )
            )
        return out


def fire(sink: EventSink | None, notices: Notices | None) -> None:
    """Call ``sink`` for every event of ``notices`` (after the commit); log a sink that raises."""
    if sink is None or not notices:
        return
    for name, arguments in notices.events():
        try:
            sink(name, **arguments)
        except Exception:
            log.exception("the event sink raised on %s; the data stays stored", name)


def _merge(into: Spans, spans: Spans) -> None:
    for channel, span in spans.items():
        found = into.get(channel)
        into[channel] = span if found is None else _union(found, span)


def _union(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    return (min(a[0], b[0]), max(a[1], b[1]))


def _utc(tick: int) -> datetime:
    return tick_to_datetime(tick)
