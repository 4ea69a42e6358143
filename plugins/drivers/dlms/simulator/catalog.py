"""The simulated meter's object list: about 110 COSEM objects, as a real three-phase meter has.

:class:`Quantities` derives every value from the meter's
:class:`~meterhub.extensions.driverkit.SimulatedMeter` in integer arithmetic, so tests compute
what the driver must read, and the parts add up the way a meter's do: the rates 1.8.1–1.8.4 sum
to 1.8.0, the phases L1–L3 to the total, the quadrants I+II to 3.8.0 and III+IV to 4.8.0.

==========================  =====  ==========================================================
objects                     class  values
==========================  =====  ==========================================================
1.8.0–1.8.4, 2.8.0–2.8.4    3      active import / export, total and rates 1–4 (40/30/20/10 %)
3.8.0–4.8.0, 3.8.1–4.8.2    3      reactive import / export, total and rates 1–2 (varh)
5.8.0–8.8.0                 3      reactive energy per quadrant I–IV (varh)
9.8.0, 10.8.0               3      apparent import / export (VAh)
21/41/61.8.0, 22/42/62.8.0  3      active import / export per phase L1–L3 (40/35/25 %)
1/2/3/4.29.0                3      energy of the last quarter-hour (load profile channels)
1/2/3/4/9/10.7.0            3      instantaneous active, reactive, apparent power
13.7.0, 14.7.0              3      power factor (scaler −3), frequency (scaler −2, Hz)
21–33, 41–53, 61–73 .7.0    3      per phase: active/reactive/apparent power, current,
                                   voltage, power factor; 91.7.0 neutral current
1/2/3/4/9.6.0, 1.6.1–1.6.2  4      maximum demand of the UTC day with its capture time
1/2/3/4/9.4.0               5      demand registers: quarter-hour averages
==========================  =====  ==========================================================

One object departs from the conventions on purpose: ``1-0:15.8.0`` (absolute active energy
import + export) is an extended register (class 4, with its capture time), as some meters model
energies; the conventions say class 3, so a driver that guesses must notice and correct itself.

Data objects (class 1): serial number, equipment id, logical device name, firmware version,
current tariff, status word, event codes, power failure counters, the invocation counter; and
the clock (8), profiles (7), disconnect control (70), limiter (71), activity calendar (20),
image transfer (18), HDLC setup (23), TCP-UDP setup (41), script tables (9), special days (11),
single action schedule (22) and security setup (64). Each class is the one the OBIS conventions
of :func:`meterhub.plugins.drivers.dlms.classes.standard_class` give the code.
"""

from __future__ import annotations

import calendar as _calendar
import math
import time
from collections.abc import Callable
from typing import Any

from gurux_dlms.enums import DataType, Unit
from gurux_dlms.objects import (
    GXDLMSActionSchedule,
    GXDLMSData,
    GXDLMSExtendedRegister,
    GXDLMSHdlcSetup,
    GXDLMSScriptTable,
    GXDLMSSecuritySetup,
    GXDLMSSpecialDaysTable,
    GXDLMSTcpUdpSetup,
)

from meterhub.extensions.driverkit import SimulatedMeter
from meterhub.plugins.drivers.dlms.simulator.objects import (
    _Calendar,
    _Column,
    _Demand,
    _Disconnector,
    _ImageTransfer,
    _last_event,
    _Limiter,
    _LiveClock,
    _LiveData,
    _LiveProfile,
    _LiveRegister,
    _MaxDemand,
)
from meterhub.plugins.drivers.dlms.simulator.state import (
    _DAILY_DAYS,
    _DAY,
    _DENIED,
    _EVENT_DAYS,
    _LP_DAYS,
    _MONTHS,
    _QUARTER,
    MeterState,
    _cosem,
    _utc,
)

__all__ = ["PHASE_SHARES", "TARIFF_SHARES", "UNCONVENTIONAL", "Quantities", "build_objects", "part"]

#: Percent of the total each phase L1, L2, L3 carries.
PHASE_SHARES = (40, 35, 25)
#: Percent of the total each rate 1..4 registers.
TARIFF_SHARES = (40, 30, 20, 10)
_UNITLESS = Unit.NO_UNIT


def part(total: int, shares: tuple[int, ...], index: int) -> int:
    """Part ``index`` of ``total`` split by percent ``shares``; the parts add up to ``total``."""
    before = sum(shares[:index])
    return total * (before + shares[index]) // 100 - total * before // 100


class Quantities:
    """Every value of a simulated meter, from its :class:`SimulatedMeter` (see the module)."""

    def __init__(self, state: MeterState) -> None:
        self.state = state
        self.model: SimulatedMeter = state.model

    # -- energies (Wh, varh, VAh) ----------------------------------------------------------------

    def import_energy(self, at: int) -> int:
        """Active import, 1.8.0."""
        return self.model.active_energy(at)

    def export_energy(self, at: int) -> int:
        """Active export, 2.8.0."""
        return self.state.export_energy(at)

    def quadrant(self, number: int, at: int) -> int:
        """Reactive energy of quadrant I–IV (5.8.0–8.8.0): I+II = 3.8.0, III+IV = 4.8.0."""
        reactive, exported = self.model.reactive_energy(at), self.export_energy(at)
        if number == 1:
            return reactive * 9 // 10
        if number == 2:
            return reactive - reactive * 9 // 10
        if number == 3:
            return exported // 20
        return exported // 30

    def reactive_import(self, at: int) -> int:
        """Reactive import, 3.8.0 (quadrants I and II)."""
        return self.model.reactive_energy(at)

    def reactive_export(self, at: int) -> int:
        """Reactive export, 4.8.0 (quadrants III and IV)."""
        return self.quadrant(3, at) + self.quadrant(4, at)

    def apparent(self, active: int, reactive: int) -> int:
        """Apparent from active and reactive (VA or VAh), rounded down."""
        return math.isqrt(active * active + reactive * reactive)

    # -- instantaneous values ----------------------------------------------------------------------

    def power(self, at: int) -> int:
        """Active import power, 1.7.0 (W)."""
        return self.model.power(at)

    def reactive_power(self, at: int) -> int:
        """Reactive import power, 3.7.0 (var)."""
        return self.model.power(at) * self.model.reactive_percent // 100

    def phase_power(self, phase: int, at: int) -> int:
        """Active power of phase L1–L3 (21/41/61.7.0)."""
        return part(self.power(at), PHASE_SHARES, phase - 1)

    def phase_reactive_power(self, phase: int, at: int) -> int:
        """Reactive power of phase L1–L3 (23/43/63.7.0)."""
        return part(self.reactive_power(at), PHASE_SHARES, phase - 1)

    def voltage(self, phase: int, at: int) -> int:
        """Voltage of phase L1–L3 in 0.1 V (32/52/72.7.0); L1 is the model's."""
        return self.model.voltage(at + (phase - 1) * 7 * _QUARTER)

    def current(self, phase: int, at: int) -> int:
        """Current of phase L1–L3 in 0.01 A (31/51/71.7.0)."""
        if phase == 1:
            return self.model.current(at)
        return self.phase_power(phase, at) * 1000 // self.voltage(phase, at)

    def power_factor(self, active: int, reactive: int) -> int:
        """Power factor in thousandths (13.7.0, 33/53/73.7.0)."""
        apparent = self.apparent(active, reactive)
        return 1000 if apparent == 0 else active * 1000 // apparent

    def frequency(self, at: int) -> int:
        """Frequency in 0.01 Hz (14.7.0): 50 Hz ± 0.03."""
        return 5000 + self.model.voltage(at) % 7 - 3


def _quarter_delta(source: Callable[[int], int]) -> Callable[[int], int]:
    """The advance of a register over the quarter-hour before ``at``'s quarter edge."""

    def value(at: int) -> int:
        edge = at - at % _QUARTER
        return source(edge) - source(edge - _QUARTER)

    return value


def _registers(q: Quantities) -> list[_LiveRegister]:
    """The class 3 registers: energies, interval energies, instantaneous values."""
    energy, reactive, apparent = Unit.ACTIVE_ENERGY, Unit.REACTIVE_ENERGY, Unit.APPARENT_ENERGY
    u32, i32, u16 = DataType.UINT32, DataType.INT32, DataType.UINT16
    found: list[_LiveRegister] = []

    def add(code: str, source: Callable[[int], int], unit: Unit, exponent: int, dtype: Any) -> None:
        found.append(_LiveRegister(code, source, unit, exponent, dtype))

    add("1.0.1.8.0.255", q.import_energy, energy, 0, u32)
    add("1.0.2.8.0.255", lambda at: q.export_energy(at) // 10, energy, 1, u32)
    for rate in range(1, 5):
        share = rate - 1
        add(f"1.0.1.8.{rate}.255", lambda at, s=share: part(q.import_energy(at), TARIFF_SHARES, s),
            energy, 0, u32)  # fmt: skip
        add(f"1.0.2.8.{rate}.255", lambda at, s=share: part(q.export_energy(at), TARIFF_SHARES, s),
            energy, 0, u32)  # fmt: skip
    add("1.0.3.8.0.255", q.reactive_import, reactive, 0, u32)
    add("1.0.4.8.0.255", q.reactive_export, reactive, 0, u32)
    for rate in (1, 2):
        add(
            f"1.0.3.8.{rate}.255",
            lambda at, s=rate - 1: part(q.reactive_import(at), (60, 40), s),
            reactive,
            0,
            u32,
        )
        add(
            f"1.0.4.8.{rate}.255",
            lambda at, s=rate - 1: part(q.reactive_export(at), (60, 40), s),
            reactive,
            0,
            u32,
        )
    for number in range(1, 5):
        add(f"1.0.{4 + number}.8.0.255", lambda at, n=number: q.quadrant(n, at), reactive, 0, u32)
    add("1.0.9.8.0.255", lambda at: q.apparent(q.import_energy(at), q.reactive_import(at)),
        apparent, 0, u32)  # fmt: skip
    add("1.0.10.8.0.255", lambda at: q.apparent(q.export_energy(at), q.reactive_export(at)),
        apparent, 0, u32)  # fmt: skip
    for phase, c in ((1, 21), (2, 41), (3, 61)):
        add(
            f"1.0.{c}.8.0.255",
            lambda at, p=phase: part(q.import_energy(at), PHASE_SHARES, p - 1),
            energy,
            0,
            u32,
        )
        add(
            f"1.0.{c + 1}.8.0.255",
            lambda at, p=phase: part(q.export_energy(at), PHASE_SHARES, p - 1),
            energy,
            0,
            u32,
        )
    add("1.0.1.29.0.255", _quarter_delta(q.import_energy), energy, 0, u32)
    add("1.0.2.29.0.255", _quarter_delta(q.export_energy), energy, 0, u32)
    add("1.0.3.29.0.255", _quarter_delta(q.reactive_import), reactive, 0, u32)
    add("1.0.4.29.0.255", _quarter_delta(q.reactive_export), reactive, 0, u32)
    add("1.0.1.7.0.255", q.power, Unit.ACTIVE_POWER, 0, i32)
    add("1.0.2.7.0.255", lambda at: 0, Unit.ACTIVE_POWER, 0, i32)
    add("1.0.3.7.0.255", q.reactive_power, Unit.REACTIVE_POWER, 0, i32)
    add("1.0.4.7.0.255", lambda at: 0, Unit.REACTIVE_POWER, 0, i32)
    add("1.0.9.7.0.255", lambda at: q.apparent(q.power(at), q.reactive_power(at)),
        Unit.APPARENT_POWER, 0, u32)  # fmt: skip
    add("1.0.10.7.0.255", lambda at: 0, Unit.APPARENT_POWER, 0, u32)
    add("1.0.13.7.0.255", lambda at: q.power_factor(q.power(at), q.reactive_power(at)),
        _UNITLESS, -3, u16)  # fmt: skip
    add("1.0.14.7.0.255", q.frequency, Unit.FREQUENCY, -2, u16)
    for phase, c in ((1, 21), (2, 41), (3, 61)):
        active = lambda at, p=phase: q.phase_power(p, at)  # noqa: E731
        react = lambda at, p=phase: q.phase_reactive_power(p, at)  # noqa: E731
        add(f"1.0.{c}.7.0.255", active, Unit.ACTIVE_POWER, 0, i32)
        add(f"1.0.{c + 1}.7.0.255", lambda at: 0, Unit.ACTIVE_POWER, 0, i32)
        add(f"1.0.{c + 2}.7.0.255", react, Unit.REACTIVE_POWER, 0, i32)
        add(f"1.0.{c + 3}.7.0.255", lambda at: 0, Unit.REACTIVE_POWER, 0, i32)
        add(
            f"1.0.{c + 8}.7.0.255",
            lambda at, a=active, r=react: q.apparent(a(at), r(at)),
            Unit.APPARENT_POWER,
            0,
            u32,
        )
        add(f"1.0.{c + 10}.7.0.255", lambda at, p=phase: q.current(p, at), Unit.CURRENT, -2, u16)
        add(f"1.0.{c + 11}.7.0.255", lambda at, p=phase: q.voltage(p, at), Unit.VOLTAGE, -1, u16)
        add(
            f"1.0.{c + 12}.7.0.255",
            lambda at, a=active, r=react: q.power_factor(a(at), r(at)),
            _UNITLESS,
            -3,
            u16,
        )
    add("1.0.91.7.0.255", lambda at: abs(q.current(1, at) - q.current(2, at)) // 2,
        Unit.CURRENT, -2, u16)  # fmt: skip
    return found


def _demands(q: Quantities, state: MeterState) -> list[Any]:
    """Maximum demand (class 4) and demand registers (class 5)."""
    sources: dict[int, tuple[Callable[[int], int], Unit]] = {
        1: (q.power, Unit.ACTIVE_POWER),
        2: (lambda at: 0, Unit.ACTIVE_POWER),
        3: (q.reactive_power, Unit.REACTIVE_POWER),
        4: (lambda at: 0, Unit.REACTIVE_POWER),
        9: (lambda at: q.apparent(q.power(at), q.reactive_power(at)), Unit.APPARENT_POWER),
    }
    found: list[Any] = []
    for c, (source, unit) in sources.items():
        found.append(_MaxDemand(f"1.0.{c}.6.0.255", source, unit))
        found.append(_Demand(f"1.0.{c}.4.0.255", source, unit))
    for rate in (1, 2):
        found.append(_MaxDemand(f"1.0.1.6.{rate}.255", q.power, Unit.ACTIVE_POWER))
    found.append(_AbsoluteEnergy(q))
    return found


#: The object whose class departs from the OBIS conventions (see the module docstring).
UNCONVENTIONAL = {"1-0:15.8.0*255": 4}


class _AbsoluteEnergy(_MaxDemand):
    """``1-0:15.8.0`` as an extended register: |+A| + |−A| in Wh, captured now."""

    def __init__(self, q: Quantities) -> None:
        super().__init__("1.0.15.8.0.255", q.power, Unit.ACTIVE_ENERGY)
        self.quantities = q

    def getValue(self, settings: Any, e: Any) -> Any:
        now = int(time.time())
        self.value = self.quantities.import_energy(now) + self.quantities.export_energy(now)
        self.captureTime = _cosem(now)
        self.status = 0
        return GXDLMSExtendedRegister.getValue(self, settings, e)


def _profiles(q: Quantities, state: MeterState, registers: dict[str, Any], clock: Any) -> list[Any]:
    """Load profile, daily and monthly billing, event logs (class 7)."""
    model = state.model
    u32 = DataType.UINT32
    time_column = _Column(clock, 2, DataType.OCTET_STRING)

    def quarter_edges(now: int) -> list[int]:
        last = now - now % _QUARTER
        return list(range(last - (_LP_DAYS * 96 - 1) * _QUARTER, last + 1, _QUARTER))

    def delta(source: Callable[[int], int]) -> Callable[[int], int]:
        return lambda edge: source(edge) - source(edge - _QUARTER)

    load_profile = _LiveProfile(
        "1.0.99.1.0.255", _QUARTER,
        [time_column, _Column(registers["1.0.1.29.0.255"], 2, u32),
         _Column(registers["1.0.3.29.0.255"], 2, u32)],
        quarter_edges,
        lambda edge: [_cosem(edge), delta(model.active_energy)(edge),
                      delta(model.reactive_energy)(edge)],
    )  # fmt: skip

    def billing_row(edge: int) -> list[Any]:
        return [_cosem(edge), model.active_energy(edge), state.export_energy(edge) // 10]

    def day_edges(now: int) -> list[int]:
        last = now - now % _DAY
        return list(range(last - (_DAILY_DAYS - 1) * _DAY, last + 1, _DAY))

    def month_edges(now: int) -> list[int]:
        moment = _utc(now)
        year, month = moment.year, moment.month
        edges = []
        for _ in range(_MONTHS):
            edges.append(_calendar.timegm((year, month, 1, 0, 0, 0)))
            year, month = (year, month - 1) if month > 1 else (year - 1, 12)
        return sorted(edges)

    billing_columns = [
        time_column,
        _Column(registers["1.0.1.8.0.255"], 2, u32),
        _Column(registers["1.0.2.8.0.255"], 2, u32),
    ]
    daily = _LiveProfile("1.0.98.2.0.255", _DAY, billing_columns, day_edges, billing_row)
    monthly = _LiveProfile("1.0.98.1.0.255", 0, billing_columns, month_edges, billing_row)
    event_code = registers["0.0.96.11.0.255"]

    def event_edges(now: int) -> list[int]:
        return [
            int(event.timestamp.timestamp())
            for event in model.events(now - _EVENT_DAYS * _DAY, now + 1)
        ]

    def event_row(at: int) -> list[Any]:
        codes = [event.code for event in model.events(at, at + 1)]
        return [_cosem(at), codes[0] if codes else 0]

    events = _LiveProfile(
        "0.0.99.98.0.255", 0, [time_column, _Column(event_code, 2, DataType.UINT16)],
        event_edges, event_row,
    )  # fmt: skip
    fraud = _LiveProfile(
        "0.0.99.98.1.255", 0, [time_column, _Column(registers["0.0.96.11.1.255"], 2,
                                                    DataType.UINT16)],
        lambda now: [], lambda at: [_cosem(at), 0],
    )  # fmt: skip
    return [load_profile, daily, monthly, events, fraud]


def _setup_objects(state: MeterState) -> list[Any]:
    """Communication and scheduling objects a meter lists (read as configured, not live)."""
    hdlc = GXDLMSHdlcSetup("0.0.22.0.0.255")
    hdlc.deviceAddress = state.physical_address
    return [
        hdlc,
        GXDLMSTcpUdpSetup("0.0.25.0.0.255"),
        GXDLMSScriptTable("0.0.10.0.0.255"),  # global meter reset
        GXDLMSScriptTable("0.0.10.0.1.255"),  # MDI reset / end of billing period
        GXDLMSScriptTable("0.0.10.0.100.255"),  # tariffication
        GXDLMSScriptTable("0.0.10.0.106.255"),  # disconnect control
        GXDLMSSpecialDaysTable("0.0.11.0.0.255"),
        GXDLMSActionSchedule("0.0.15.0.0.255"),  # end of billing period
        GXDLMSSecuritySetup("0.0.43.0.0.255"),
    ]


def build_objects(state: MeterState) -> list[Any]:
    """Every object of one simulated meter (a fresh set per association)."""
    q = Quantities(state)
    model = state.model
    clock = _LiveClock(state)

    def text(value: str) -> Callable[[], bytes]:
        return lambda: value.encode()

    def now_value(source: Callable[[int], int]) -> Callable[[], int]:
        return lambda: source(int(time.time()))

    data = [
        _LiveData("0.0.42.0.0.255", text("MHS" + state.serial), DataType.OCTET_STRING),
        _LiveData("0.0.96.1.0.255", text(state.serial), DataType.OCTET_STRING),
        _LiveData("0.0.96.1.1.255", text("MHSIM-" + state.serial), DataType.OCTET_STRING),
        _LiveData("1.0.0.2.0.255", lambda: state.firmware().encode(), DataType.OCTET_STRING),
        _LiveData("0.0.43.1.0.255", lambda: state.invocation_counter + 1, DataType.UINT32),
        _LiveData("0.0.96.14.0.255", now_value(lambda at: 1 if 6 <= at % _DAY // 3600 < 22
                                                else 2), DataType.UINT8),
        _LiveData("0.0.96.10.1.255", lambda: 0, DataType.UINT32),
        _LiveData("0.0.96.11.0.255", lambda: _last_event(model), DataType.UINT16),
        _LiveData("0.0.96.11.1.255", lambda: 0, DataType.UINT16),
        _LiveData("0.0.96.7.21.255", now_value(
            lambda at: len(model.events(at - _EVENT_DAYS * _DAY, at + 1)) // 2), DataType.UINT16),
        _LiveData("0.0.96.7.9.255", lambda: 0, DataType.UINT16),
    ]  # fmt: skip
    denied = GXDLMSData(_DENIED)
    denied.value = 0
    registers = _registers(q)
    by_name: dict[str, Any] = {obj.logicalName: obj for obj in [*registers, *data]}
    power = by_name["1.0.1.7.0.255"]
    objects: list[Any] = [clock, *data, *registers, *_demands(q, state)]
    objects += _profiles(q, state, by_name, clock)
    objects += [_Disconnector(state), _Limiter(state, power), _Calendar(state), denied]
    objects += _setup_objects(state)
    if state.image.present:
        objects.append(_ImageTransfer(state))
    return objects
