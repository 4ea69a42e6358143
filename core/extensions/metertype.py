"""Meter types: what a make and model of meter measures, as a template for the inventory.

A :class:`MeterType` says which driver reads a model of meter, with which default settings, and
which channels it offers (OBIS code, kind, unit, scaler, profile interval). Driver plugins
contribute the types of the meters they know through the ``register_meter_types()`` hook;
:func:`meterhub.inventory.metertypes.apply_meter_type` gives a virtual meter the type's
channels, and :func:`meterhub.inventory.meters.create_meter` takes the type's driver, model and
settings, so adding a known meter is one step instead of a channel at a time.

Types are usually written as data — a TOML table per type, from the manufacturer's published
record description — and turned into classes with :meth:`MeterType.from_mapping`, which checks
every field and names the one that is wrong::

    [[type]]
    name = "kamstrup-multical-603"
    manufacturer = "KAM"
    model = "MULTICAL 603"
    medium = "heat"
    driver = "mbus"
    reference = "Kamstrup, MULTICAL 603 data sheet, M-Bus data telegram"
    channels = [
        {obis = "6-0:1.0.0", kind = "register", unit = "kWh", scaler = -3},
        {obis = "6-0:8.0.0", kind = "register", unit = "m3", scaler = -2},
    ]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, ClassVar

from meterhub.errors import InvalidValue
from meterhub.identifiers import canonical_obis

__all__ = ["CHANNEL_KINDS", "MEDIA", "ChannelSpec", "MeterType"]

#: The channel kinds a type may declare (those of the inventory).
CHANNEL_KINDS = ("profile", "register", "event")
#: The media a type may declare (those of metering points).
MEDIA = (
    "electricity", "gas", "heat", "cold", "water", "hot_water", "heat_cost_allocator", "other",
)  # fmt: skip
_TYPE_FIELDS = {
    "name", "manufacturer", "model", "medium", "driver", "description", "reference", "settings",
    "channels",
}  # fmt: skip
_CHANNEL_FIELDS = {"obis", "kind", "unit", "scaler", "interval_minutes", "name"}


@dataclass(frozen=True, slots=True)
class ChannelSpec:
    """One channel a meter type offers.

    ``interval_minutes`` is the profile period of a ``profile`` channel (``None`` otherwise);
    ``name`` defaults to the inventory's naming (the OBIS code).
    """

    obis: str
    kind: str = "register"
    unit: str | None = None
    scaler: int = 0
    interval_minutes: int | None = None
    name: str | None = None


def _text(data: Mapping[str, Any], key: str, where: str, *, required: bool = True) -> str:
    value = data.get(key, "")
    if not isinstance(value, str) or (required and not value.strip()):
        raise InvalidValue(f"{where}.{key}", "must be a non-empty text" if required else "text")
    return value.strip()


def _channel(data: Any, where: str) -> ChannelSpec:
    if not isinstance(data, Mapping):
        raise InvalidValue(where, "a channel is a table of obis, kind, unit, scaler, ...")
    unknown = sorted(set(data) - _CHANNEL_FIELDS)
    if unknown:
        raise InvalidValue(where, f"unknown field {unknown[0]!r}")
    obis = canonical_obis(_text(data, "obis", where), field=f"{where}.obis")
    kind = data.get("kind", "register")
    if kind not in CHANNEL_KINDS:
        raise InvalidValue(f"{where}.kind", f"must be one of {', '.join(CHANNEL_KINDS)}")
    scaler = data.get("scaler", 0)
    if isinstance(scaler, bool) or not isinstance(scaler, int) or not -128 <= scaler <= 127:
        raise InvalidValue(f"{where}.scaler", "must be a whole number -128..127")
    interval = data.get("interval_minutes")
    if kind == "profile":
        if isinstance(interval, bool) or not isinstance(interval, int) or interval <= 0:
            raise InvalidValue(f"{where}.interval_minutes", "a profile channel needs minutes > 0")
    elif interval is not None:
        raise InvalidValue(f"{where}.interval_minutes", f"a {kind} channel has no interval")
    unit = data.get("unit")
    if unit is not None and (not isinstance(unit, str) or not unit.strip()):
        raise InvalidValue(f"{where}.unit", "must be a non-empty text when given")
    name = data.get("name")
    if name is not None and (not isinstance(name, str) or not name.strip()):
        raise InvalidValue(f"{where}.name", "must be a non-empty text when given")
    return ChannelSpec(obis, kind, unit, scaler, interval, name)


class MeterType:
    """Base class of meter types; a driver plugin contributes subclasses.

    A subclass sets the class attributes below; :meth:`from_mapping` makes one from data.
    The key of a type is :attr:`name` (lowercase letters, digits, ``-`` and ``_``).
    """

    #: The hook that contributes meter types, and the attribute that names one.
    hook: ClassVar[str] = "register_meter_types"
    key: ClassVar[str] = "name"

    #: The type's unique name: ``kamstrup-multical-603``.
    name: ClassVar[str]
    #: The manufacturer (its M-Bus/FLAG three-letter code or its name).
    manufacturer: ClassVar[str]
    #: The model as the manufacturer writes it.
    model: ClassVar[str]
    #: What the meter measures: one of :data:`MEDIA`.
    medium: ClassVar[str]
    #: The driver that reads it (``mbus``, ``wmbus``, ``dlms`` ...).
    driver: ClassVar[str]
    #: One line for people choosing a type.
    description: ClassVar[str] = ""
    #: The published document the type was written from.
    reference: ClassVar[str] = ""
    #: Default driver settings of a meter of this type (never credentials).
    settings: ClassVar[Mapping[str, str]] = MappingProxyType({})
    #: The channels the type offers.
    channels: ClassVar[tuple[ChannelSpec, ...]] = ()

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str = "type") -> type[MeterType]:
        """A subclass from one table of type data; :class:`InvalidValue` names what is wrong."""
        if not isinstance(data, Mapping):
            raise InvalidValue(where, "a meter type is a table")
        unknown = sorted(set(data) - _TYPE_FIELDS)
        if unknown:
            raise InvalidValue(where, f"unknown field {unknown[0]!r}")
        name = _text(data, "name", where)
        if not all(char.isalnum() or char in "-_" for char in name) or name != name.lower():
            raise InvalidValue(f"{where}.name", f"lowercase letters, digits, - and _, not {name!r}")
        medium = _text(data, "medium", where)
        if medium not in MEDIA:
            raise InvalidValue(f"{where}.medium", f"must be one of {', '.join(MEDIA)}")
        settings = data.get("settings", {})
        if not isinstance(settings, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in settings.items()
        ):
            raise InvalidValue(f"{where}.settings", "must be a table of text values")
        raw_channels = data.get("channels", [])
        if not isinstance(raw_channels, list) or not raw_channels:
            raise InvalidValue(f"{where}.channels", "a meter type offers at least one channel")
        channels = tuple(
            _channel(item, f"{where}.channels[{index}]") for index, item in enumerate(raw_channels)
        )
        seen = [(channel.obis, channel.interval_minutes) for channel in channels]
        if len(set(seen)) != len(seen):
            raise InvalidValue(f"{where}.channels", "a channel (OBIS, interval) appears twice")
        attributes = {
            "name": name,
            "manufacturer": _text(data, "manufacturer", where),
            "model": _text(data, "model", where),
            "medium": medium,
            "driver": _text(data, "driver", where),
            "description": _text(data, "description", where, required=False),
            "reference": _text(data, "reference", where, required=False),
            "settings": MappingProxyType(dict(settings)),
            "channels": channels,
            "__doc__": f"Meter type {name}: {data.get('manufacturer')} {data.get('model')}.",
        }
        identifier = "".join(part.capitalize() for part in name.replace("_", "-").split("-"))
        return type(f"{identifier}Type", (cls,), attributes)
