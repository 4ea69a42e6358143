"""What a telegram says, by meter: the electricity meter itself and the meters it carries.

A P1 telegram holds the electricity meter's registers and, on M-Bus channels 1..4, those of
the gas, water and heat meters wired to it (codes ``0-n:…``). Those are meters of their own:
:class:`TelegramMeters` delivers them as :class:`~meterhub.extensions.driver.Submeter`
objects with their device type (``0-n:24.1.0``), equipment identifier (``0-n:96.1.0``, or
``0-n:96.1.1`` in e-MUCS) and readings stamped with their own capture times
(``0-n:24.2.1(260302110000W)(00123.456*m3)``). DSMR 2.2 and 3.0 give a gas value as a
profile header ``0-n:24.3.0(time)(00)(60)(1)(0-n:24.2.1)(m3)`` with the value on the next
line; it becomes a reading of the captured code (``0-n:24.2.1``).

Billing values come from e-MUCS's monthly maximum demand history
``0-0:98.1.0(n)(1-0:1.6.0)(1-0:1.6.0)(period end)(time of the maximum)(value*kW)…``, else from
historical values (``*VZ``) like a mode C readout. Events come from the power failure log
``1-0:99.97.0(n)(0-0:96.7.19)(end)(duration*s)…``: a power down and a power up per failure.
"""

from __future__ import annotations

import binascii
from datetime import UTC, datetime, timedelta, tzinfo

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    BillingPeriod,
    BillingValues,
    EventLog,
    MeterEvent,
    Quality,
    Reading,
    Submeter,
)
from meterhub.identifiers import ObisCode
from meterhub.plugins.drivers.iec62056_21.protocol import DataSet, number, parse_timestamp
from meterhub.plugins.drivers.iec62056_21.values import Readout, reading_of

__all__ = ["POWER_FAILURE_LOG", "TelegramMeters", "readable_id"]

POWER_FAILURE_LOG = "1-0:99.97.0*255"
_POWER_DOWN, _POWER_UP = 1, 2


def readable_id(text: str) -> str:
    """An equipment identifier made readable: DSMR sends the ASCII serial hex-encoded
    (``4730303132`` is ``G0012``); anything else stays as it is."""
    if len(text) < 2 or len(text) % 2:
        return text
    try:
        decoded = binascii.unhexlify(text)
    except (binascii.Error, ValueError):
        return text
    if decoded and all(0x20 <= byte < 0x7F for byte in decoded):
        return decoded.decode("ascii").strip()
    return text


def _is_submeter(code: ObisCode | None) -> bool:
    return code is not None and code.a == 0 and 1 <= code.b <= 4


class TelegramMeters:
    """The meters of one telegram received at ``received_at`` (system time, UTC)."""

    def __init__(self, datasets: tuple[DataSet, ...], zone: tzinfo, received_at: datetime) -> None:
        self.zone = zone
        self.received_at = received_at
        self.readout = Readout(datasets, zone, received_at)
        self._channels: dict[int, list[Reading]] = {}
        self._identity: dict[int, dict[str, str]] = {}
        self._group(datasets)

    def _group(self, datasets: tuple[DataSet, ...]) -> None:
        index = 0
        while index < len(datasets):
            dataset = datasets[index]
            index += 1
            code = dataset.code
            if not _is_submeter(code) or dataset.obis is None:
                continue
            assert code is not None
            readings = self._channels.setdefault(code.b, [])
            identity = self._identity.setdefault(code.b, {})
            if (code.c, code.d, code.e) == (24, 3, 0):
                following = datasets[index] if index < len(datasets) else None
                if following is not None and not following.address:
                    index += 1
                readings.append(self._profile_value(dataset, following))
                continue
            reading = reading_of(dataset, dataset.obis, self.received_at, self.zone)
            readings.append(reading)
            if (code.c, code.d, code.e) == (24, 1, 0) and isinstance(reading.value, int):
                identity["device_type"] = str(reading.value)
            elif code.c == 96 and code.d == 1 and code.e in (0, 1) and reading.value:
                identity.setdefault("equipment_id", str(reading.value))

    def _profile_value(self, header: DataSet, row: DataSet | None) -> Reading:
        """DSMR 2.2/3.0 ``0-n:24.3.0(time)(status)(minutes)(count)(code)(unit)`` + ``(value)``."""
        groups = [value.text for value in header.values]
        obis = header.obis or ""
        if len(groups) >= 6 and groups[4]:
            try:
                obis = str(ObisCode.parse(groups[4], default_a=0))
            except InvalidValue:
                pass  # keep the header's own code
        stamp = parse_timestamp(groups[0], self.zone) if groups else None
        value = row.values[0].text if row is not None and row.values else ""
        parsed = number(value)
        moment = self.received_at if stamp is None else stamp.astimezone(UTC)
        if parsed is None:
            return Reading(obis, None, None, 0, moment, Quality.NOT_AVAILABLE)
        unit = groups[5] if len(groups) >= 6 and groups[5] else None
        return Reading(obis, parsed[0], unit, parsed[1], moment)

    # -- the electricity meter -------------------------------------------------------------------

    def register(self, obis: str) -> Reading:
        """A register of the telegram (any channel); ``not_available`` when it lacks it."""
        for readings in self._channels.values():
            for reading in readings:
                if reading.obis == obis and obis not in self.readout.by_obis:
                    return reading
        return self.readout.register(obis)

    def instantaneous(self) -> list[Reading]:
        """The electricity meter's measurements (voltages, currents, power)."""
        return self.readout.instantaneous()

    def clock(self) -> Reading:
        """The telegram's time stamp ``0-0:1.0.0`` (DSMR 2.2 has none: ``not_available``)."""
        return self.readout.clock()

    # -- the meters it carries ---------------------------------------------------------------

    def submeters(self) -> list[Submeter]:
        """One :class:`~meterhub.extensions.driver.Submeter` per M-Bus channel, by channel."""
        found: list[Submeter] = []
        for channel in sorted(self._channels):
            identity = self._identity.get(channel, {})
            equipment = identity.get("equipment_id")
            device = identity.get("device_type")
            found.append(
                Submeter(
                    channel=channel,
                    device_type=int(device) if device is not None else None,
                    equipment_id=equipment,
                    serial_number=readable_id(equipment) if equipment is not None else None,
                    readings=tuple(self._channels[channel]),
                )
            )
        return found

    # -- history ---------------------------------------------------------------------------------

    def billing(
        self, start: datetime, end: datetime, period: BillingPeriod = BillingPeriod.MONTHLY
    ) -> BillingValues:
        """Monthly maxima of e-MUCS (``0-0:98.1.0``), else historical ``*VZ`` values."""
        kind = BillingPeriod(period)
        history = self.readout.by_obis.get("0-0:98.1.0*255")
        if kind is not BillingPeriod.MONTHLY or history is None:
            return self.readout.billing(start, end, kind)
        groups = history.values
        count = number(groups[0].text) if groups else None
        if count is None or count[1] != 0 or count[0] < 0 or len(groups) < 1 + 3 * count[0]:
            return BillingValues(kind, (), Quality.INVALID)
        entries = count[0]
        header = len(groups) - 3 * entries
        captured = groups[1].text if header > 1 and groups[1].text else "1-0:1.6.0"
        try:
            obis = str(ObisCode.parse(captured, default_a=1))
        except InvalidValue:
            return BillingValues(kind, (), Quality.INVALID)
        low, high = start.astimezone(UTC), end.astimezone(UTC)
        found = []
        for first in range(header, len(groups), 3):
            closed = parse_timestamp(groups[first].text, self.zone)
            value = number(groups[first + 2].text)
            if closed is None or value is None:
                return BillingValues(kind, (), Quality.INVALID)
            closed = closed.astimezone(UTC)
            if low <= closed <= high:
                found.append(Reading(obis, value[0], groups[first + 2].unit, value[1], closed))
        found.sort(key=lambda reading: (reading.timestamp, reading.obis))
        return BillingValues(kind, tuple(found))

    def events(self, start: datetime, end: datetime) -> EventLog:
        """Power down and up of each failure in the power failure log, in ``[start, end)``."""
        log = self.readout.by_obis.get(POWER_FAILURE_LOG)
        if log is None:
            return EventLog((), Quality.NOT_AVAILABLE)
        groups = log.values
        count = number(groups[0].text) if groups else None
        if count is None or count[1] != 0 or len(groups) < 2 + 2 * count[0]:
            return EventLog((), Quality.INVALID)
        low, high = start.astimezone(UTC), end.astimezone(UTC)
        events = []
        for first in range(len(groups) - 2 * count[0], len(groups), 2):
            ended = parse_timestamp(groups[first].text, self.zone)
            seconds = number(groups[first + 1].text)
            if ended is None or seconds is None:
                return EventLog((), Quality.INVALID)
            up = ended.astimezone(UTC)
            down = up - timedelta(seconds=seconds[0] * 10 ** seconds[1])
            for moment, code, text in (
                (down, _POWER_DOWN, "Power down"),
                (up, _POWER_UP, "Power up"),
            ):
                if low <= moment < high:
                    events.append(MeterEvent(moment, code, POWER_FAILURE_LOG, text))
        events.sort(key=lambda event: (event.timestamp, event.code))
        return EventLog(tuple(events))
