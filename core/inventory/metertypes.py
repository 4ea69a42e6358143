"""Meter types as templates: give a virtual meter the channels of a make and model of meter.

The types come from the driver plugins (``runtime.plugins.meter_types()``, see
:mod:`meterhub.extensions.metertype`). :func:`apply_meter_type` adds every channel of the type
the virtual meter does not have yet (by OBIS code and interval), so applying a type twice, or to
a virtual meter that already has some of its channels, adds only what is missing.

Like every inventory operation it validates first, flushes, and never commits.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import InvalidValue
from meterhub.extensions.metertype import MeterType
from meterhub.inventory.metering import add_channel, in_session
from meterhub.model.metering import NO_INTERVAL, Channel, VirtualMeter

__all__ = ["apply_meter_type", "meter_fields", "meter_type_medium_matches"]

#: Metering-point media a meter-type medium may serve besides its own (a heat meter that also
#: measures cooling serves a cold point; a hot-water meter a water point).
_ALSO_SERVES = {"heat": {"cold"}, "hot_water": {"water"}}


def meter_type_medium_matches(meter_type: type[MeterType], point_medium: str | None) -> bool:
    """Whether a meter of ``meter_type`` may serve a metering point of ``point_medium``."""
    if point_medium is None or "other" in (meter_type.medium, point_medium):
        return True
    return point_medium == meter_type.medium or point_medium in _ALSO_SERVES.get(
        meter_type.medium, set()
    )


def apply_meter_type(
    session: Session, virtual_meter: VirtualMeter, meter_type: type[MeterType]
) -> list[Channel]:
    """Add the channels of ``meter_type`` that ``virtual_meter`` lacks; return the new ones.

    :raises InvalidValue: ``meter_type`` is not a meter type, or serves another medium than the
        virtual meter's metering point.
    """
    if not isinstance(meter_type, type) or not issubclass(meter_type, MeterType):
        raise InvalidValue("meter_type", "must be a meter type (runtime.plugins.meter_types())")
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    medium = virtual_meter.metering_point.medium
    if not meter_type_medium_matches(meter_type, medium):
        raise InvalidValue(
            "meter_type",
            f"{meter_type.name} measures {meter_type.medium}, but metering point "
            f"{virtual_meter.metering_point.name!r} is a {medium} point",
        )
    existing = {
        (channel.obis, channel.interval_minutes)
        for channel in session.scalars(
            select(Channel).where(Channel.virtual_meter_id == virtual_meter.id)
        )
    }
    added = []
    for spec in meter_type.channels:
        if (spec.obis, spec.interval_minutes or NO_INTERVAL) in existing:
            continue
        added.append(
            add_channel(
                session,
                virtual_meter=virtual_meter,
                obis=spec.obis,
                kind=spec.kind,
                interval_minutes=spec.interval_minutes,
                unit=spec.unit,
                scaler=spec.scaler,
                name=spec.name,
            )
        )
    return added


def meter_fields(meter_type: type[MeterType]) -> dict[str, Any]:
    """The arguments of :func:`~meterhub.inventory.meters.create_meter` a type decides:
    ``driver``, ``model`` and ``driver_settings`` (``create_meter(session, manufacturer=...,
    serial_number=..., **meter_fields(kind))``)."""
    return {
        "driver": meter_type.driver,
        "model": meter_type.model,
        "driver_settings": dict(meter_type.settings),
    }
