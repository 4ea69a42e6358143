"""Telegrams of many meters from one receiver, for the core's telegram stream.

A wireless M-Bus receiver (a stick on a serial port, a gateway's TCP feed, a log file) hears
every meter in range. The ``wmbus`` driver reads that stream for the core
(:mod:`meterhub.acquisition.stream`) in the two steps of :mod:`meterhub.extensions.push`:

* :func:`read_telegram` — the next telegram from the line: hex lines (optionally after an ISO
  time stamp) or Amber command frames (``FF 03 len data CS``), told apart by their first byte;
  the link layer's CRCs are checked and stripped (format A, B or none, found by themselves).
  The identities are ``"<manufacturer> <identification>"`` (``"KAM 12345678"``) and the
  identification alone. A line that is not a telegram is skipped; a telegram whose CRCs fail
  raises :class:`~meterhub.extensions.driver.ProtocolError`.
* :func:`open_pushed` — with the meter's settings (its ``key`` from the credential store and
  the replay state ``last_access_number``/``last_counter``): deciphered and checked like a
  session's telegram (wrong key: ``AuthenticationFailed``; a replay: ``ProtocolError``), its
  current and dated historic values as readings, and the new replay state to keep.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from meterhub.errors import InvalidValue, MeterHubError
from meterhub.extensions.driver import (
    AuthenticationFailed,
    DriverError,
    LinkLost,
    MeterTimeout,
    ProtocolError,
    Reading,
)
from meterhub.extensions.driverkit import split_settings
from meterhub.extensions.medium import Medium
from meterhub.extensions.push import NoKey, PushContent, PushMessage, Replayed
from meterhub.plugins.drivers.mbus.obis import MEDIUM_NAMES
from meterhub.plugins.drivers.mbus.readout import Readout
from meterhub.plugins.drivers.mbus.records import decode_records
from meterhub.plugins.drivers.mbus.settings import WmbusSettings
from meterhub.plugins.drivers.mbus.wireless.decoder import TelegramDecoder
from meterhub.plugins.drivers.mbus.wireless.link import strip_link
from meterhub.plugins.drivers.mbus.wireless.receiver import parse_line
from meterhub.plugins.drivers.mbus.wireless.security import MeterKey
from meterhub.plugins.drivers.mbus.wireless.status import Status, TelegramError
from meterhub.plugins.drivers.mbus.wireless.telegram import ReplayGuard, open_telegram, read_address

__all__ = ["BulkOpener", "TelegramReader", "open_pushed", "read_telegram"]

_MAX_LINE = 4096
_AMBER = 0xFF


class TelegramReader:
    """Cuts one line's bytes into telegrams (hex lines or Amber frames), keeping what is left."""

    def __init__(self, medium: Medium) -> None:
        self.medium = medium
        self.skipped = 0
        self._buffer = b""

    def _fill(self, deadline: float) -> bool:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        try:
            self._buffer += self.medium.read(4096, left)
        except LinkLost:
            # the end of a file or stream: its last line needs no newline
            if self._buffer.strip() and not self._buffer.endswith(b"\n"):
                self._buffer += b"\n"
                return True
            raise
        return True

    def next(self, timeout: float) -> tuple[bytes, datetime]:
        """The next raw telegram and when it arrived; ``MeterTimeout`` after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            buffer = self._buffer.lstrip(b"\r\n ")
            self._buffer = buffer
            if buffer[:1] == bytes([_AMBER]):
                if len(buffer) >= 3 and len(buffer) >= 4 + buffer[2]:
                    size = buffer[2]
                    frame, self._buffer = buffer[: 4 + size], buffer[4 + size :]
                    check = 0
                    for byte in frame[:-1]:
                        check ^= byte
                    if frame[1] != 0x03 or check != frame[-1]:
                        self.skipped += 1
                        continue
                    data = frame[3:-1]
                    return bytes([len(data)]) + data, datetime.now(UTC)
            else:
                cut = buffer.find(b"\n")
                if cut >= 0:
                    line, self._buffer = buffer[:cut], buffer[cut + 1 :]
                    parsed = parse_line(line)
                    if parsed is None:
                        self.skipped += line.strip() != b""
                        continue
                    return parsed[0], parsed[1] or datetime.now(UTC)
                if len(buffer) > _MAX_LINE:
                    self._buffer = b""
                    self.skipped += 1
            if not self._fill(deadline):
                raise MeterTimeout(f"no telegram within {timeout:g} s")


_readers: weakref.WeakKeyDictionary[Medium, TelegramReader] = weakref.WeakKeyDictionary()
_readers_lock = threading.Lock()


def read_telegram(medium: Medium, timeout: float) -> PushMessage:
    """The next telegram on ``medium`` (see the module docstring)."""
    with _readers_lock:
        reader = _readers.get(medium)
        if reader is None:
            reader = _readers[medium] = TelegramReader(medium)
    raw, arrived = reader.next(timeout)
    try:
        frame = strip_link(raw, "auto")
        address = read_address(frame)
    except TelegramError as exc:
        raise ProtocolError(f"telegram refused: {exc}", frame=raw) from None
    identities = (f"{address.letters} {address.meter_id}", address.meter_id)
    sender = {
        "address": f"{identities[0]} {address.version:02X} {address.medium:02X}",
        "manufacturer": address.letters,
        "identification": address.meter_id,
        "version": address.version,
        "device_type": address.medium,
        "medium": MEDIUM_NAMES.get(address.medium, f"device type {address.medium:02X}h"),
    }
    return PushMessage(identities, None, (frame,), raw, arrived.astimezone(UTC), sender)


def _refusal(status: Status, reason: str, text: str, frame: bytes) -> DriverError:
    """The error of a refused telegram: why it was refused, as the telegram stream records it."""
    if status == Status.UNKNOWN_METER and reason.startswith("no key"):
        return NoKey(text, frame=frame)
    if status in (Status.WRONG_KEY, Status.UNKNOWN_METER):
        return AuthenticationFailed(text, frame=frame)
    if status in (Status.REPLAYED, Status.OUT_OF_ORDER):
        return Replayed(text, frame=frame)
    return ProtocolError(text, frame=frame)


def open_pushed(message: PushMessage, settings: Mapping[str, Any]) -> PushContent:
    """Decipher and decode a telegram of :func:`read_telegram` with the meter's settings."""
    own, _ = split_settings(settings, WmbusSettings, "tcp")
    options = WmbusSettings.parse(own)
    (frame,) = message.values
    key = MeterKey(options.key) if options.key else None
    guard = ReplayGuard(options.last_access_number, options.last_counter)
    try:
        opened = open_telegram(frame, key, guard)
    except TelegramError as exc:
        text = (
            f"meter {options.meter_id}: {exc.reason}"
            if exc.status in (Status.WRONG_KEY, Status.UNKNOWN_METER)
            else f"meter {options.meter_id}: {exc}"
        )
        raise _refusal(exc.status, exc.reason, text, message.frame) from None
    zone = UTC if options.timezone == "UTC" else ZoneInfo(options.timezone)
    readout = Readout(
        identification=opened.address.meter_id,
        manufacturer=opened.address.letters,
        version=opened.address.version,
        medium=opened.address.medium,
        access=opened.access,
        status=opened.status,
        records=decode_records(opened.records),
        read_at=message.received,
        zone=zone,
    )
    state = {}
    if guard.access is not None:
        state["last_access_number"] = str(guard.access)
    if guard.counter is not None:
        state["last_counter"] = str(guard.counter)
    warnings = tuple(
        f"record {unmapped.index} kept raw ({unmapped.reason})" for unmapped in readout.unmapped()
    )
    return PushContent(
        readings=tuple(readout.current() + readout.historic()), warnings=warnings, state=state
    )


_MISSING = object()


def _essentials(settings: Mapping[str, Any]) -> tuple[str, bytes | None, int | None, int | None]:
    """Meter id, key and replay state of a meter's settings, checked as the settings model
    checks them (parsing the whole model per telegram would cost more than the telegram)."""
    meter_id = str(settings.get("meter_id", "")).strip()
    if len(meter_id) != 8 or not meter_id.isdigit():
        raise InvalidValue("settings.meter_id", "must be the 8-digit identification number")
    key_text = settings.get("key")
    key = None
    if key_text not in (None, ""):
        try:
            key = bytes.fromhex(str(key_text))
        except ValueError:
            key = b""
        if len(key) != 16:
            raise InvalidValue("settings.key", "must be 32 hex digits")
    numbers = []
    for name in ("last_access_number", "last_counter"):
        text = settings.get(name)
        try:
            numbers.append(None if text in (None, "") else int(str(text), 0))
        except ValueError:
            raise InvalidValue(f"settings.{name}", "must be a whole number") from None
    return meter_id, key, numbers[0], numbers[1]


class BulkOpener:
    """The ``wmbus`` driver's bulk path for a stream: one :class:`~.decoder.TelegramDecoder`
    (record layouts compiled once, key schedules cached per meter), meters added as they are
    heard, each batch's replay state taken from the meters' settings."""

    def __init__(self) -> None:
        self.decoder = TelegramDecoder()
        self._keys: dict[str, bytes | None] = {}
        self._lock = threading.Lock()

    def open(
        self, messages: Sequence[PushMessage], settings: Sequence[Mapping[str, Any]]
    ) -> list[PushContent | DriverError | MeterHubError]:
        """:meth:`~meterhub.extensions.driver.Driver.decode_pushes` for telegrams."""
        results: list[PushContent | DriverError | MeterHubError | None] = [None] * len(messages)
        with self._lock:
            decoder = self.decoder
            picked: list[int] = []
            ids: list[str] = []
            seen: set[str] = set()
            if len(settings) != len(messages):
                raise ValueError("one settings mapping per message")
            for index, meter_settings in enumerate(settings):
                try:
                    meter_id, key, access, counter = _essentials(meter_settings)
                except InvalidValue as exc:
                    results[index] = exc
                    continue
                if self._keys.get(meter_id, _MISSING) != key:
                    decoder.add_meter(meter_id, key)
                    self._keys[meter_id] = key
                if meter_id not in seen:  # the state stored before this batch
                    seen.add(meter_id)
                    raw = bytes.fromhex(meter_id)[::-1]
                    decoder.meters[raw].guard = ReplayGuard(access, counter)
                picked.append(index)
                ids.append(meter_id)
            batch = decoder.decode(
                [messages[i].frame for i in picked], [messages[i].received for i in picked]
            )
            guards = {
                meter_id: decoder.meters[bytes.fromhex(meter_id)[::-1]].guard for meter_id in seen
            }
            channels = decoder.channels
        order = np.argsort(batch.telegram, kind="stable")
        telegrams = batch.telegram[order]
        bounds = np.searchsorted(telegrams, np.arange(len(picked) + 1))
        seconds = batch.time[order].astype("datetime64[s]").astype(np.int64)
        values = batch.value[order]
        numbers = batch.channel[order]
        stamps: dict[int, datetime] = {}
        for position, index in enumerate(picked):
            meter_id = ids[position]
            status = Status(int(batch.status[position]))
            if status != Status.OK:
                reason = batch.reasons.get(position, status.name.lower())
                text = f"meter {meter_id}: {status.name.lower()}: {reason}"
                results[index] = _refusal(status, reason, text, messages[index].frame)
                continue
            readings = []
            for at in range(int(bounds[position]), int(bounds[position + 1])):
                _, obis, unit = channels[int(numbers[at])]
                second = int(seconds[at])
                stamp = stamps.get(second)
                if stamp is None:
                    stamp = stamps[second] = datetime.fromtimestamp(second, UTC)
                readings.append(Reading(obis, float(values[at]), unit, 0, stamp))
            guard = guards[meter_id]
            state = {}
            if guard.access is not None:
                state["last_access_number"] = str(guard.access)
            if guard.counter is not None:
                state["last_counter"] = str(guard.counter)
            results[index] = PushContent(readings=tuple(readings), state=state)
        return [result for result in results if result is not None]
