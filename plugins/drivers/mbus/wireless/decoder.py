"""Many telegrams at once: link layer, decryption, replay checks and mapping to columns.

:class:`TelegramDecoder` is what a receiver service runs: :meth:`TelegramDecoder.decode` takes a
list of raw telegrams (as received, with or without CRCs) and returns a :class:`DecodedBatch` —
per telegram its :class:`~.status.Status` and meter, and the mapped values as columns (channel
number, physical value, UTC time) with no Python object per value. Telegrams of an unknown
meter, with a wrong key, replayed or broken get their status and no values; the meters heard on
air are kept in :attr:`TelegramDecoder.heard` (identification, manufacturer, medium, last
heard, counts) so the ones missing from the inventory can be listed.

The path per telegram is short Python (CRCs by fastcrc, header fields by slicing, AES by
``cryptography`` with key schedules cached per meter); records are decoded per layout with numpy
(:mod:`.layout`), and only the first telegram of a layout (or one that does not fit it) goes
through pymbusparser.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from meterhub.plugins.drivers.mbus.wireless.layout import (
    Layout,
    compile_layout,
    decode_date,
    decode_field,
)
from meterhub.plugins.drivers.mbus.wireless.link import strip_link
from meterhub.plugins.drivers.mbus.wireless.security import MeterKey
from meterhub.plugins.drivers.mbus.wireless.status import Status, TelegramError
from meterhub.plugins.drivers.mbus.wireless.telegram import (
    ReplayGuard,
    open_telegram,
    read_address,
)

__all__ = ["DecodedBatch", "HeardMeter", "MeterEntry", "TelegramDecoder"]


@dataclass
class HeardMeter:
    """A meter heard on air: who it is, when it was last heard, what came of its telegrams."""

    meter_id: str
    manufacturer: str
    version: int
    medium: int
    last_heard: datetime
    telegrams: int = 0
    last_status: Status = Status.OK


@dataclass
class MeterEntry:
    """A configured meter: its key (cached schedules), replay state and channel numbers."""

    meter_id: str
    key: MeterKey | None
    guard: ReplayGuard = field(default_factory=ReplayGuard)
    layout: Layout | None = None
    channel_start: dict[int, int] = field(default_factory=dict)


@dataclass
class DecodedBatch:
    """The result of :meth:`TelegramDecoder.decode` (columns, see the module docstring).

    ``status`` (uint8) and ``meters`` have one entry per telegram; ``telegram``, ``channel``,
    ``value`` and ``time`` one per mapped value. :attr:`TelegramDecoder.channels` names each
    channel number: ``(meter id, OBIS code, unit)``. ``raw_records`` counts records kept raw
    (listed once per layout in :attr:`TelegramDecoder.unmapped`); ``reasons`` holds the reason
    of every telegram not taken.
    """

    status: npt.NDArray[np.uint8]
    meters: list[str | None]
    telegram: npt.NDArray[np.int32]
    channel: npt.NDArray[np.int32]
    value: npt.NDArray[np.float64]
    time: npt.NDArray[np.datetime64]
    raw_records: int = 0
    reasons: dict[int, str] = field(default_factory=dict)

    def count(self, status: Status) -> int:
        """How many telegrams ended with ``status``."""
        return int(np.count_nonzero(self.status == status))


class TelegramDecoder:
    """Decodes telegrams of the configured meters (see the module docstring).

    :param meters: meter id (8 digits) → AES key (16 bytes) or ``None`` for a meter in clear.
    :param link_crc: the receiver's frames: ``a``, ``b``, ``none`` or ``auto``.
    """

    def __init__(
        self, meters: Mapping[str, bytes | None] | None = None, link_crc: str = "auto"
    ) -> None:
        self.link_crc = link_crc
        self.meters: dict[bytes, MeterEntry] = {}
        self.heard: dict[bytes, HeardMeter] = {}
        self.layouts: dict[bytes, Layout] = {}
        self.channels: list[tuple[str, str, str | None]] = []
        self.unmapped: dict[int, list[tuple[int, str, str]]] = {}
        for meter_id, key in (meters or {}).items():
            self.add_meter(meter_id, key)

    def add_meter(self, meter_id: str, key: bytes | None) -> None:
        """Configure a meter (its key's schedules are computed here, once)."""
        raw = bytes.fromhex(meter_id)[::-1]
        self.meters[raw] = MeterEntry(meter_id, MeterKey(key) if key is not None else None)

    # -- per telegram -----------------------------------------------------------------------

    def _hear(self, frame: bytes, status: Status, now: datetime) -> None:
        if len(frame) < 10:
            return
        address = read_address(frame)
        heard = self.heard.get(address.raw)
        if heard is None:
            heard = HeardMeter(
                address.meter_id, address.letters, address.version, address.medium, now
            )
            self.heard[address.raw] = heard
        heard.last_heard = now
        heard.telegrams += 1
        heard.last_status = status

    def _layout_for(self, entry: MeterEntry, records: bytes, medium: int) -> Layout | None:
        layout = entry.layout
        if layout is not None and layout.length == len(records):
            return layout
        layout = compile_layout(records, medium)
        if layout is None:
            return None
        signature = bytes(layout.check_values) + layout.check_positions.tobytes() + bytes([medium])
        shared = self.layouts.get(signature)
        if shared is None:
            layout.number = len(self.layouts)
            self.layouts[signature] = layout
            self.unmapped[layout.number] = layout.unmapped
            shared = layout
        entry.layout = shared
        return shared

    def decode(
        self, frames: Sequence[bytes], received: Iterable[datetime] | None = None
    ) -> DecodedBatch:
        """Decode ``frames`` (received at ``received``, default now); see :class:`DecodedBatch`."""
        count = len(frames)
        now = datetime.now(UTC)
        stamps = list(received) if received is not None else [now] * count
        status = np.zeros(count, dtype=np.uint8)
        meters: list[str | None] = [None] * count
        reasons: dict[int, str] = {}
        groups: dict[int, list[tuple[int, bytes, MeterEntry]]] = defaultdict(list)
        layouts: dict[int, Layout] = {}
        fallback: list[tuple[int, bytes, MeterEntry, int]] = []
        for index, raw in enumerate(frames):
            frame = b""
            try:
                frame = strip_link(raw, self.link_crc)
                entry = self.meters.get(frame[4:8])
                if entry is None:
                    raise TelegramError(Status.UNKNOWN_METER, "meter not configured")
                opened = open_telegram(frame, entry.key, entry.guard)
            except TelegramError as exc:
                status[index] = exc.status
                reasons[index] = exc.reason
                self._hear(frame, exc.status, stamps[index])
                continue
            meters[index] = entry.meter_id
            self._hear(frame, Status.OK, stamps[index])
            layout = self._layout_for(entry, opened.records, opened.address.medium)
            if layout is None:
                fallback.append((index, opened.records, entry, opened.address.medium))
                continue
            layouts[layout.number] = layout
            groups[layout.number].append((index, opened.records, entry))
        parts: list[tuple[npt.NDArray[np.int32], ...]] = []
        times: list[npt.NDArray[np.datetime64]] = []
        values: list[npt.NDArray[np.float64]] = []
        raw_records = len(fallback)
        when = np.array([int(stamp.timestamp()) for stamp in stamps], dtype=np.int64).astype(
            "datetime64[s]"
        )
        for number, rows in groups.items():
            layout = layouts[number]
            matrix = np.frombuffer(b"".join(row[1] for row in rows), dtype=np.uint8).reshape(
                len(rows), layout.length
            )
            fits = (matrix[:, layout.check_positions] == layout.check_values).all(axis=1)
            if not fits.all():
                for row, ok in zip(rows, fits, strict=True):
                    if not ok:
                        status[row[0]] = Status.MALFORMED
                        reasons[row[0]] = "records differ from the meter's layout"
                matrix = matrix[fits]
                rows = [row for row, ok in zip(rows, fits, strict=True) if ok]
                if not rows:
                    continue
            indexes = np.array([row[0] for row in rows], dtype=np.int32)
            starts = np.array([self._channel_start(row[2], layout) for row in rows], dtype=np.int32)
            dates = {storage: decode_date(matrix, entry) for storage, entry in layout.dates.items()}
            raw_records += len(layout.unmapped) * len(rows)
            for position, entry in enumerate(layout.values):
                column = decode_field(matrix, entry)
                stamp = when[indexes] if entry.storage == 0 else dates.get(entry.storage)
                if stamp is None:
                    continue
                parts.append((indexes, starts + position))
                values.append(column)
                times.append(stamp)
        for index, _records, _entry, _medium in fallback:
            reasons.setdefault(index, "records outside a compiled layout (kept raw)")
        if parts:
            telegram = np.concatenate([part[0] for part in parts])
            channel = np.concatenate([part[1] for part in parts])
            value = np.concatenate(values)
            stamp_column = np.concatenate(times)
        else:
            telegram = channel = np.zeros(0, np.int32)
            value = np.zeros(0, np.float64)
            stamp_column = np.zeros(0, "datetime64[s]")
        return DecodedBatch(
            status, meters, telegram, channel, value, stamp_column, raw_records, reasons
        )

    def _channel_start(self, entry: MeterEntry, layout: Layout) -> int:
        start = entry.channel_start.get(layout.number)
        if start is None:
            start = len(self.channels)
            entry.channel_start[layout.number] = start
            self.channels.extend((entry.meter_id, obis, unit) for obis, unit in layout.channels)
        return start

    def heard_meters(self) -> list[HeardMeter]:
        """Every meter heard, most recent first."""
        return sorted(self.heard.values(), key=lambda heard: heard.last_heard, reverse=True)

    def unknown_meters(self, known: Iterable[str]) -> list[HeardMeter]:
        """Meters heard whose identification is not in ``known`` (e.g. the inventory's)."""
        wanted = set(known)
        return [heard for heard in self.heard_meters() if heard.meter_id not in wanted]
