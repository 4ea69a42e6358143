"""The shipped meter types of the M-Bus drivers: heat, water and gas meters as data.

``types/mbus.toml`` holds the types the wired driver reads, ``types/wmbus.toml`` those of the
wireless driver; each ``[[type]]`` table becomes a
:class:`~meterhub.extensions.metertype.MeterType` through ``MeterType.from_mapping``, which
checks every field. A type is written from the manufacturer's published record description
(its ``reference``); its channels are the OBIS codes the driver's mapping (:mod:`.obis`)
produces for those records. :func:`check_type` says why a type could not be read as declared,
and loading refuses such a type, so a catalogue entry can never promise a channel the driver
cannot fill.
"""

from __future__ import annotations

import tomllib
from functools import cache
from importlib import resources

from meterhub.errors import InvalidValue
from meterhub.extensions.metertype import MeterType
from meterhub.plugins.drivers.mbus.obis import channel_problem

__all__ = ["CATALOGUES", "check_type", "load_catalogue", "parse_catalogue"]

#: The catalogue files, by the driver whose types they hold.
CATALOGUES = {"mbus": "mbus.toml", "wmbus": "wmbus.toml"}


def check_type(meter_type: type[MeterType], driver: str) -> list[str]:
    """What is wrong with ``meter_type`` as a type of ``driver`` (empty when nothing)."""
    problems = []
    if meter_type.driver != driver:
        problems.append(f"driver is {meter_type.driver!r}, not {driver!r}")
    for spec in meter_type.channels:
        if spec.kind != "register":
            problems.append(f"{spec.obis}: M-Bus readouts give registers, not {spec.kind}")
            continue
        problem = channel_problem(spec.obis, spec.unit, meter_type.medium)
        if problem is not None:
            problems.append(problem)
    return problems


def parse_catalogue(text: str, driver: str, source: str) -> tuple[type[MeterType], ...]:
    """The meter types of one catalogue file's ``text``; :class:`InvalidValue` names the
    first bad table and field (``source`` names the file in errors)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InvalidValue(source, f"not valid TOML: {exc}") from None
    unknown = sorted(set(data) - {"type"})
    if unknown:
        raise InvalidValue(source, f"unknown table {unknown[0]!r} (only [[type]] tables)")
    tables = data.get("type")
    if not isinstance(tables, list) or not tables:
        raise InvalidValue(source, "holds no [[type]] table")
    found: list[type[MeterType]] = []
    for index, table in enumerate(tables):
        where = f"{source}: type[{index}]"
        meter_type = MeterType.from_mapping(table, where)
        problems = check_type(meter_type, driver)
        if problems:
            raise InvalidValue(where, problems[0])
        if any(known.name == meter_type.name for known in found):
            raise InvalidValue(f"{where}.name", f"{meter_type.name!r} appears twice")
        found.append(meter_type)
    return tuple(found)


@cache
def load_catalogue(driver: str) -> tuple[type[MeterType], ...]:
    """The shipped meter types of ``driver`` (``mbus`` or ``wmbus``), read once."""
    if driver not in CATALOGUES:
        raise InvalidValue("driver", f"must be one of {', '.join(CATALOGUES)}, not {driver!r}")
    name = CATALOGUES[driver]
    text = resources.files(__package__).joinpath("types", name).read_text(encoding="utf-8")
    return parse_catalogue(text, driver, f"types/{name}")
