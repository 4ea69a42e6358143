"""The simulated M-Bus meters: which records a heat, water or gas meter sends at a given time.

Every value is integer arithmetic on the kit's :class:`SimulatedMeter` (keyed by the meter's
identification number), so tests compute exactly what a driver must read:

* **heat** (device type 04h): energy Wh = 4 × the model's active energy, sent in kWh (BCD);
  volume = energy / 23.26 Wh per litre (ΔT = 20 K), sent in 10 l steps; power W = 4 × the
  model's power; flow l/h = power / 23.26; flow temperature 65..75 °C varying per quarter-hour,
  return = flow − 20 K; tariff 2 energy; a second volume input as subunit 1;
* **water** (07h) and **warm water** (06h, with a temperature): volume l = active energy / 10
  (sent in 10 l steps),
  flow l/h = power / 10; **gas** (03h): volume l = active energy / 5;
* a meter of a shipped meter type sends that type's record layout instead (:mod:`.layouts`);
* every other meter: date and time (type F), on-time hours, error flags, fabrication number, and the
  values at the start of each of the last ``storages`` months (UTC) as storage numbers 1..n with
  their dates (type G). A heat meter ends its readout with two bytes of manufacturer data.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.plugins.drivers.mbus.encoding import bcd, integer, record, type_f, type_g

__all__ = [
    "HEAT",
    "GAS",
    "WARM_WATER",
    "WATER",
    "MeterSpec",
    "month_starts",
    "records_of",
    "values_at",
]

HEAT, GAS, WATER, WARM_WATER = 0x04, 0x03, 0x07, 0x06
#: Manufacturer code of simulated meters ("MHB", MeterHub).
MANUFACTURER = "MHB"
_ON_TIME_ORIGIN = 1_700_000_000


@dataclass(frozen=True, slots=True)
class MeterSpec:
    """One simulated M-Bus meter: identity and how much history it keeps."""

    identification: str
    medium: int
    primary_address: int = 0
    version: int = 1
    manufacturer: str = MANUFACTURER
    storages: int = 12
    #: A shipped meter type whose record layout the meter sends (:mod:`.layouts`), or ``None``
    #: for the generic records below.
    layout: str | None = None

    @property
    def model(self) -> SimulatedMeter:
        """The deterministic meter model behind the values."""
        return SimulatedMeter(self.identification)


def month_starts(at: int, count: int) -> list[int]:
    """Unix seconds of the first of the month (UTC) for the ``count`` months before ``at``."""
    moment = datetime.fromtimestamp(at, UTC)
    year, month = moment.year, moment.month
    found = []
    for _ in range(count):
        found.append(int(datetime(year, month, 1, tzinfo=UTC).timestamp()))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return found


def values_at(spec: MeterSpec, at: int) -> dict[str, int]:
    """The meter's quantities at Unix second ``at`` in their base units (Wh, l, W, l/h, 0.01 °C)."""
    model = SimulatedMeter(spec.identification)
    energy = model.active_energy(at)
    power = model.power(at)
    if spec.medium == HEAT:
        heat = 4 * energy
        flow = 7000 + 10 * (model.voltage(at) - 2300)
        return {
            "energy_wh": heat,
            "volume_l": heat * 100 // 2326,
            "power_w": 4 * power,
            "flow_lph": 4 * power * 100 // 2326,
            "flow_temp": flow,
            "return_temp": flow - 2000,
            "temp_diff": 2000,
        }
    divisor = 5 if spec.medium == GAS else 10
    found = {"volume_l": energy // divisor, "flow_lph": power // divisor}
    if spec.medium == WARM_WATER:
        found["flow_temp"] = 5500 + 10 * (model.voltage(at) - 2300)
    return found


def records_of(
    spec: MeterSpec,
    at: int,
    meter_time: int | None = None,
    *,
    storages: int | None = None,
    tail: bool = True,
) -> list[bytes]:
    """The meter's data records at Unix second ``at`` (its clock shows ``meter_time``).

    A meter of a meter type (``spec.layout``) sends that type's records instead
    (:func:`~.layouts.layout_records`; ``storages`` and ``tail`` do not apply).
    """
    if spec.layout is not None:
        from meterhub.plugins.drivers.mbus.simulator.layouts import layout_records

        return layout_records(spec, at, meter_time)
    shown = datetime.fromtimestamp(at if meter_time is None else meter_time, UTC)
    values = values_at(spec, at)
    found = [record(0x04, b"\x6d", type_f(shown))]
    if spec.medium == HEAT:
        found += [
            record(0x0C, b"\x06", bcd(values["energy_wh"] // 1000, 4)),
            record(0x0C, b"\x14", bcd(values["volume_l"] // 10, 4)),
            record(0x04, b"\x2b", integer(values["power_w"], 4)),
            record(0x04, b"\x3b", integer(values["flow_lph"], 4)),
            record(0x02, b"\x59", integer(values["flow_temp"], 2)),
            record(0x02, b"\x5d", integer(values["return_temp"], 2)),
            record(0x02, b"\x61", integer(values["temp_diff"], 2)),
            record(0x0C, b"\x06", bcd(values["energy_wh"] // 4000, 4), tariff=2),
            record(0x04, b"\x13", integer(values["volume_l"] // 3, 4), subunit=1),
        ]
    else:
        found += [
            record(0x0C, b"\x14", bcd(values["volume_l"] // 10, 4)),
            record(0x04, b"\x3b", integer(values["flow_lph"], 4)),
        ]
        if "flow_temp" in values:
            found.append(record(0x02, b"\x59", integer(values["flow_temp"], 2)))
    found += [
        record(0x04, b"\x22", integer((at - _ON_TIME_ORIGIN) // 3600, 4)),
        record(0x02, b"\xfd\x17", integer(0, 2)),
        record(0x0C, b"\x78", bcd(int(spec.identification), 4)),
    ]
    count = spec.storages if storages is None else storages
    for number, start in enumerate(month_starts(at, count), start=1):
        then = values_at(spec, start)
        day = datetime.fromtimestamp(start, UTC).date()
        found.append(record(0x02, b"\x6c", type_g(day), storage=number))
        if spec.medium == HEAT:
            found.append(record(0x0C, b"\x06", bcd(then["energy_wh"] // 1000, 4), storage=number))
        else:
            found.append(record(0x0C, b"\x14", bcd(then["volume_l"] // 10, 4), storage=number))
    if tail and spec.medium == HEAT:
        found.append(b"\x0f" + bytes([0x4D, at & 0xFF]))
    return found
