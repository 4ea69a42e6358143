"""Record layouts of the shipped meter types: a simulated meter that sends what a make and
model of meter sends.

``layouts.toml`` lists, per meter type, the records of its telegram in order (DIF, DIFEs, VIF,
VIFEs in hex). :func:`layout_records` fills each with the value its header calls for, from the
deterministic meter model of :mod:`.model`: the quantity and unit step from the VIF (energy
``06`` = kWh, volume ``13`` = litres, flow temperature ``5A`` = 0.1 °C, ...), the data coding
from the DIF (BCD or integer of 1..8 bytes, type F/G dates), the value at the start of a
month from the storage number. A record written ``header:data`` carries ``data`` as it is (text,
durations, manufacturer data). Decoding stays with pymbusparser, so the tests compare what the
driver reads with the model, through an independent decoder.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from importlib import resources

from meterhub.errors import InvalidValue
from meterhub.plugins.drivers.mbus.encoding import bcd, type_f, type_g
from meterhub.plugins.drivers.mbus.simulator.model import MeterSpec, month_starts, values_at

__all__ = ["Layout", "LayoutRecord", "layout", "layout_names", "layout_records", "parse_layouts"]

_ON_TIME_ORIGIN = 1_700_000_000
#: BCD data fields: DIF data-field nibble → bytes.
_BCD = {0x9: 1, 0xA: 2, 0xB: 3, 0xC: 4, 0xE: 6}
#: Integer data fields: DIF data-field nibble → bytes.
_INTEGER = {0x1: 1, 0x2: 2, 0x3: 3, 0x4: 4, 0x6: 6, 0x7: 8}
_TIME_UNITS = (1, 60, 3600, 86400)


@dataclass(frozen=True, slots=True)
class LayoutRecord:
    """One record of a layout: its header and what fills it."""

    header: bytes
    storage: int
    tariff: int
    subunit: int
    dif: int
    vif: int
    extension: int | None
    data: bytes | None


@dataclass(frozen=True, slots=True)
class Layout:
    """What a meter of a type sends: header fields and records."""

    type: str
    version: int
    medium: int
    records: tuple[LayoutRecord, ...]


def _record(text: str, where: str) -> LayoutRecord:
    header_text, _, data_text = text.partition(":")
    try:
        header = bytes.fromhex(header_text)
        data = bytes.fromhex(data_text) if data_text else None
    except ValueError:
        raise InvalidValue(where, f"{text!r} is not hex (DIF..VIF[:data])") from None
    if not header:
        raise InvalidValue(where, "a record needs at least a DIF")
    dif = header[0]
    if dif in (0x0F, 0x1F):  # manufacturer data runs to the end
        return LayoutRecord(header, 0, 0, 0, dif, 0, None, data or b"")
    storage, tariff, subunit = (dif >> 6) & 1, 0, 0
    position, shift_s, shift_t, shift_u = 1, 1, 0, 0
    extended = dif & 0x80
    while extended:
        if position >= len(header):
            raise InvalidValue(where, f"{text!r}: the DIF chain has no end")
        dife = header[position]
        storage |= (dife & 0x0F) << shift_s
        tariff |= ((dife >> 4) & 0x03) << shift_t
        subunit |= ((dife >> 6) & 0x01) << shift_u
        shift_s, shift_t, shift_u = shift_s + 4, shift_t + 2, shift_u + 1
        extended = dife & 0x80
        position += 1
    if position >= len(header):
        raise InvalidValue(where, f"{text!r} has no VIF")
    vif = header[position]
    extension = header[position + 1] if vif in (0xFB, 0xFD) and position + 1 < len(header) else None
    if data is None and not _fillable(dif, vif, extension):
        raise InvalidValue(where, f"{text!r}: the model has no value for this record; give :data")
    return LayoutRecord(header, storage, tariff, subunit, dif, vif, extension, data)


def _fillable(dif: int, vif: int, extension: int | None) -> bool:
    coding = dif & 0x0F
    if coding not in _BCD and coding not in _INTEGER:
        return False
    if vif == 0xFD:
        return extension is not None and extension & 0x7F == 0x17
    code = vif & 0x7F
    return (
        code <= 0x17
        or 0x20 <= code <= 0x2F
        or 0x38 <= code <= 0x3F
        or 0x58 <= code <= 0x6D
        or (code == 0x78)
    )


def parse_layouts(text: str, source: str = "layouts.toml") -> dict[str, Layout]:
    """The layouts of a layouts file, by meter type; :class:`InvalidValue` names what is wrong."""
    try:
        tables = tomllib.loads(text).get("layout", [])
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(source, f"not valid TOML: {exc}") from None
    found: dict[str, Layout] = {}
    for index, table in enumerate(tables):
        where = f"{source}: layout[{index}]"
        name, version, medium = table.get("type"), table.get("version"), table.get("medium")
        records = table.get("records")
        if not isinstance(name, str) or not name:
            raise InvalidValue(f"{where}.type", "names a meter type")
        if not isinstance(version, int) or not isinstance(medium, int):
            raise InvalidValue(where, "version and medium are whole numbers (0x..)")
        if not isinstance(records, list) or not records:
            raise InvalidValue(f"{where}.records", "a layout has records")
        found[name] = Layout(
            name,
            version,
            medium,
            tuple(_record(str(item), f"{where}.records[{n}]") for n, item in enumerate(records)),
        )
    return found


@cache
def _shipped() -> dict[str, Layout]:
    text = resources.files(__package__).joinpath("layouts.toml").read_text(encoding="utf-8")
    return parse_layouts(text)


def layout_names() -> list[str]:
    """The meter types the simulators can imitate."""
    return sorted(_shipped())


def layout(name: str) -> Layout:
    """The layout of meter type ``name``; :class:`InvalidValue` when there is none."""
    found = _shipped().get(name)
    if found is None:
        raise InvalidValue("type", f"no simulated layout for {name!r}: {', '.join(layout_names())}")
    return found


def _quantities(spec: MeterSpec, at: int) -> dict[str, int]:
    """The model's values at ``at`` in base units: Wh, l, W, l/h, m°C, K/1000, s."""
    values = values_at(spec, at)
    water_temperature = 1000 + (values["flow_lph"] % 500)  # 10.00..14.99 °C, in 0.01 °C
    flow = values.get("flow_temp", water_temperature)
    back = values.get("return_temp", flow)
    return {
        "energy": values.get("energy_wh", 0),
        "volume": values["volume_l"],
        "power": values.get("power_w", 0),
        "flow": values["flow_lph"],
        "flow_temp": flow * 10,
        "return_temp": back * 10,
        "temp_diff": values.get("temp_diff", 0) * 10,
        "external_temp": 20_000,
        "time": at - _ON_TIME_ORIGIN,
    }


def _scaled(value: int, exponent: int) -> int:
    """``value`` in units of ``10 ** exponent`` base units (truncated like a meter's display)."""
    return value // 10**exponent if exponent >= 0 else value * 10**-exponent


def _raw(record: LayoutRecord, values: dict[str, int], identification: str) -> int:
    code = record.vif & 0x7F
    if record.vif == 0xFD:
        return 0  # error flags: no error
    n = code & 0x07
    if code <= 0x07:
        return _scaled(values["energy"], n - 3)
    if code <= 0x0F:
        return _scaled(values["energy"] * 3600, n)
    if code <= 0x17:
        return _scaled(values["volume"], n - 3)
    if code <= 0x27:
        return values["time"] // _TIME_UNITS[code & 0x03]
    if code <= 0x2F:
        return _scaled(values["power"], n - 3)
    if code <= 0x3F:
        return _scaled(values["flow"], n - 3)
    key = {0x58: "flow_temp", 0x5C: "return_temp", 0x60: "temp_diff", 0x64: "external_temp"}
    if 0x58 <= code <= 0x67:
        return _scaled(values[key[code & 0x7C]], code & 0x03)
    return int(identification)  # 78h: fabrication number


def _encode(record: LayoutRecord, value: int) -> bytes:
    coding = record.dif & 0x0F
    if coding in _BCD:
        size = _BCD[coding]
        return bcd(abs(value) % 10 ** (2 * size), size)
    size = _INTEGER[coding]
    half = 1 << (8 * size - 1)
    return ((value + half) % (2 * half) - half).to_bytes(size, "little", signed=True)


def layout_records(spec: MeterSpec, at: int, meter_time: int | None = None) -> list[bytes]:
    """The records a meter of ``spec.layout`` sends at Unix second ``at`` (clock ``meter_time``)."""
    if spec.layout is None:
        raise InvalidValue("layout", "the meter has no meter type layout")
    chosen = layout(spec.layout)
    deepest = max((record.storage for record in chosen.records), default=0)
    starts = month_starts(at, deepest) if deepest else []
    current = _quantities(spec, at)
    history = [_quantities(spec, start) for start in starts]
    found = []
    for record in chosen.records:
        if record.data is not None:
            found.append(record.header + record.data)
            continue
        moment = at if record.storage == 0 else starts[record.storage - 1]
        code = record.vif & 0x7F
        if code == 0x6D:
            shown = at if meter_time is None or record.storage else meter_time
            data = type_f(datetime.fromtimestamp(shown, UTC))
        elif code == 0x6C:
            data = type_g(datetime.fromtimestamp(moment, UTC).date())
        else:
            values = current if record.storage == 0 else history[record.storage - 1]
            raw = _raw(record, values, spec.identification)
            if record.tariff or record.subunit:  # tariff registers and inputs: a share of it
                raw //= 2 + record.tariff + record.subunit
            data = _encode(record, raw)
        found.append(record.header + data)
    return found
