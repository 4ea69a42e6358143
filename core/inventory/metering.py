"""Operations on metering points, virtual meters, containers and channels.

Every operation takes the caller's :class:`~sqlalchemy.orm.Session`, validates all its input
before it adds anything, flushes (so database constraints are checked at once) and never
commits: the caller's transaction (:func:`meterhub.db.transaction`) commits or rolls back. A bad
value raises :class:`~meterhub.errors.InvalidValue` and a collision with stored data
:class:`~meterhub.errors.Conflict`, both naming the field and the reason.

Objects passed in may belong to the session or be detached (loaded in an earlier transaction);
a detached object is looked up again by its id in this session.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.identifiers import canonical_obis, validate_ean18, validate_eic
from meterhub.inventory.common import check_license_limit, check_name, flush, optional_text
from meterhub.model.elements import Element
from meterhub.model.metering import (
    CHANNEL_KINDS,
    MEDIA,
    NAME_LENGTH,
    NO_INTERVAL,
    PROFILE_INTERVALS,
    Channel,
    Container,
    MeteringPoint,
    VirtualMeter,
)

__all__ = [
    "LICENSE_LIMIT",
    "add_channel",
    "create_container",
    "create_metering_point",
    "create_virtual_meter",
    "disable",
    "enable",
    "find_metering_point",
]

#: The license limit that counts virtual meters.
LICENSE_LIMIT = "virtual_meters"

#: OBIS value group A of a reduced code (``1.8.0``) given for a metering point of a medium.
OBIS_MEDIUM: dict[str, int] = {
    "electricity": 1,
    "heat_cost_allocator": 4,
    "cold": 5,
    "heat": 6,
    "gas": 7,
    "water": 8,
    "hot_water": 9,
}

#: Range of a channel's scaler (a DLMS scaler is a signed byte).
SCALER_RANGE = range(-128, 128)

_T = TypeVar("_T")
_CODE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._/-]*")


# -- helpers shared by the inventory operations on metering and devices ----------------------


def clean_int(
    value: object, field: str, *, minimum: int | None = None, maximum: int | None = None
) -> int:
    """``value`` checked to be an integer (not a bool) within ``minimum``..``maximum``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidValue(field, f"must be a whole number, not {value!r}")
    if minimum is not None and value < minimum:
        raise InvalidValue(field, f"must be at least {minimum}, not {value}")
    if maximum is not None and value > maximum:
        raise InvalidValue(field, f"must be at most {maximum}, not {value}")
    return value


def clean_settings(value: object, field: str) -> dict[str, Any]:
    """``value`` checked to be a JSON object (a dict with text keys and JSON values)."""
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidValue(field, f"must be a mapping of names to values, not {value!r}")

    def check(item: object, where: str) -> None:
        if item is None or isinstance(item, bool | int | float | str):
            return
        if isinstance(item, list | tuple):
            for index, element in enumerate(item):
                check(element, f"{where}[{index}]")
            return
        if isinstance(item, dict):
            for key, element in item.items():
                if not isinstance(key, str):
                    raise InvalidValue(where, f"keys must be text, not {key!r}")
                check(element, f"{where}.{key}")
            return
        raise InvalidValue(where, f"{type(item).__name__} cannot be stored as JSON")

    check(value, field)
    return dict(value)


def in_session(session: Session, obj: _T | None, field: str, kind: type[_T]) -> _T:
    """``obj`` as an instance of this session, checked to be a stored ``kind``.

    A pending object of the session is flushed (to get its id); a detached object is loaded
    again by its primary key, and one that no longer exists raises
    :class:`~meterhub.errors.NotFound`.
    """
    if obj is None:
        raise InvalidValue(field, "is required")
    if not isinstance(obj, kind):
        raise InvalidValue(field, f"must be a {kind.__name__}, not {type(obj).__name__}")
    state = inspect(obj)
    if state.session is session:
        if state.pending:
            session.flush()  # Give the caller's new object its id, to refer to it.
        return obj
    if state.identity is None:
        raise InvalidValue(field, f"this {kind.__name__} is not stored yet; add it first")
    if state.session is not None:
        raise InvalidValue(field, f"this {kind.__name__} belongs to another open session")
    loaded = session.get(kind, state.identity)
    if loaded is None:
        raise NotFound(f"{kind.__name__} {state.identity[0]} no longer exists")
    return loaded


# -- metering points ---------------------------------------------------------------------------


def _blank(value: object) -> bool:
    """Whether an optional identifier is missing (``None`` or blank text, NULL on Oracle)."""
    return value is None or (isinstance(value, str) and not value.strip())


def _identifier_holder(session: Session, column: Any, value: str, field: str, what: str) -> None:
    other = session.scalars(select(MeteringPoint).where(column == value)).first()
    if other is not None:
        raise Conflict(
            field,
            f"{what} {value} is already used by metering point {other.name!r} (id {other.id})",
        )


def create_metering_point(
    session: Session,
    *,
    element: Element,
    name: str,
    eic: str | None = None,
    ean: str | None = None,
    metering_code: str | None = None,
    medium: str = "electricity",
) -> MeteringPoint:
    """Create a metering point named ``name`` on ``element`` (a consumer or contract).

    ``eic`` (16-character ENTSO-E code) and ``ean`` (18-digit GS1 number) are checked, check
    character included, and stored in canonical form; ``metering_code`` is a free code of
    letters, digits and ``. _ / -``. Each identifier is unique among all metering points, the
    name among those of the element. ``medium`` is one of
    :data:`meterhub.model.metering.MEDIA`.
    """
    element = in_session(session, element, "element", Element)
    name = check_name(name, field="name", max_length=NAME_LENGTH)
    eic = None if _blank(eic) else validate_eic(eic, field="eic")  # type: ignore[arg-type]
    ean = None if _blank(ean) else validate_ean18(ean, field="ean")  # type: ignore[arg-type]
    metering_code = optional_text(metering_code, field="metering_code", max_length=64)
    if metering_code is not None and not _CODE.fullmatch(metering_code):
        raise InvalidValue("metering_code", "may hold only letters, digits and . _ / - (no spaces)")
    if medium not in MEDIA:
        raise InvalidValue("medium", f"must be one of {', '.join(MEDIA)}, not {medium!r}")

    clash = session.scalars(
        select(MeteringPoint).where(
            MeteringPoint.element_id == element.id, MeteringPoint.name == name
        )
    ).first()
    if clash is not None:
        raise Conflict(
            "name",
            f"element {element.name!r} already has a metering point named {name!r} (id {clash.id})",
        )
    if eic is not None:
        _identifier_holder(session, MeteringPoint.eic, eic, "eic", "EIC")
    if ean is not None:
        _identifier_holder(session, MeteringPoint.ean, ean, "ean", "EAN")
    if metering_code is not None:
        _identifier_holder(
            session, MeteringPoint.metering_code, metering_code, "metering_code", "metering code"
        )

    point = MeteringPoint(
        element=element,
        name=name,
        eic=eic,
        ean=ean,
        metering_code=metering_code,
        medium=medium,
        enabled=True,
    )
    session.add(point)
    flush(session, field="name")
    return point


def find_metering_point(
    session: Session,
    *,
    eic: str | None = None,
    ean: str | None = None,
    metering_code: str | None = None,
) -> MeteringPoint:
    """The metering point with the given identifier (exactly one of the three).

    :raises NotFound: no metering point has it.
    """
    candidates = (("eic", eic), ("ean", ean), ("metering_code", metering_code))
    given = [(n, v) for n, v in candidates if v is not None]
    if len(given) != 1:
        raise InvalidValue("identifier", "give exactly one of eic, ean, metering_code")
    field, value = given[0]
    if field == "eic":
        value = validate_eic(value, field="eic")
    elif field == "ean":
        value = validate_ean18(value, field="ean")
    point = session.scalars(
        select(MeteringPoint).where(getattr(MeteringPoint, field) == value)
    ).first()
    if point is None:
        raise NotFound(f"no metering point has {field} {value}")
    return point


# -- virtual meters and containers -------------------------------------------------------------


def create_virtual_meter(
    session: Session, *, metering_point: MeteringPoint, name: str, enabled: bool = True
) -> VirtualMeter:
    """Create a virtual meter named ``name`` (unique per metering point).

    The license in ``session.info["license"]`` (the development license's limits without one)
    limits how many virtual meters exist: every virtual meter counts, enabled or not. Over the
    limit, :class:`~meterhub.errors.LicenseLimitExceeded` is raised and nothing is written; two
    sessions creating the last allowed one at once get one meter and one refusal.
    """
    metering_point = in_session(session, metering_point, "metering_point", MeteringPoint)
    name = check_name(name, field="name", max_length=NAME_LENGTH)
    if not isinstance(enabled, bool):
        raise InvalidValue("enabled", f"must be true or false, not {enabled!r}")
    clash = session.scalars(
        select(VirtualMeter).where(
            VirtualMeter.metering_point_id == metering_point.id, VirtualMeter.name == name
        )
    ).first()
    if clash is not None:
        raise Conflict(
            "name",
            f"metering point {metering_point.name!r} already has a virtual meter named "
            f"{name!r} (id {clash.id})",
        )
    every_virtual_meter = select(func.count()).select_from(VirtualMeter)
    check_license_limit(
        session, LICENSE_LIMIT, every_virtual_meter, table=VirtualMeter.__tablename__
    )
    meter = VirtualMeter(metering_point=metering_point, name=name, enabled=enabled)
    session.add(meter)
    flush(session, field="name")
    return meter


def create_container(session: Session, *, metering_point: MeteringPoint, name: str) -> Container:
    """Create a container of processed data named ``name`` (unique per metering point)."""
    metering_point = in_session(session, metering_point, "metering_point", MeteringPoint)
    name = check_name(name, field="name", max_length=NAME_LENGTH)
    clash = session.scalars(
        select(Container).where(
            Container.metering_point_id == metering_point.id, Container.name == name
        )
    ).first()
    if clash is not None:
        raise Conflict(
            "name",
            f"metering point {metering_point.name!r} already has a container named {name!r} "
            f"(id {clash.id})",
        )
    container = Container(metering_point=metering_point, name=name)
    session.add(container)
    flush(session, field="name")
    return container


# -- channels ----------------------------------------------------------------------------------


def _interval_text(minutes: int) -> str:
    return "1 day" if minutes == 1440 else f"{minutes} min"


def add_channel(
    session: Session,
    *,
    virtual_meter: VirtualMeter,
    obis: str,
    kind: str = "profile",
    interval_minutes: int | None = None,
    unit: str | None = None,
    scaler: int = 0,
    name: str | None = None,
) -> Channel:
    """Add a channel to ``virtual_meter``.

    ``obis`` is read in any form :meth:`meterhub.identifiers.ObisCode.parse` accepts and stored
    canonically; a reduced code (``1.8.0``) takes value group A from the metering point's
    medium. ``kind`` is ``profile`` (needs ``interval_minutes``, one of
    :data:`~meterhub.model.metering.PROFILE_INTERVALS`), ``register`` or ``event`` (no
    interval). ``scaler`` is the power of ten of raw values (-128..127). ``name`` defaults to
    the OBIS code (plus the interval of a profile). The triple (OBIS, interval) and the name
    are unique per virtual meter.
    """
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    default_a = OBIS_MEDIUM.get(virtual_meter.metering_point.medium, 0)
    if not isinstance(obis, str):
        raise InvalidValue("obis", f"must be text such as 1-0:1.8.0*255, not {obis!r}")
    obis = canonical_obis(obis, field="obis", default_a=default_a)
    if kind not in CHANNEL_KINDS:
        raise InvalidValue("kind", f"must be one of {', '.join(CHANNEL_KINDS)}, not {kind!r}")
    allowed = ", ".join(str(i) for i in PROFILE_INTERVALS)
    if kind == "profile":
        if interval_minutes is None:
            raise InvalidValue(
                "interval_minutes", f"a profile channel needs an interval: one of {allowed}"
            )
        if (
            isinstance(interval_minutes, bool)
            or not isinstance(interval_minutes, int)
            or interval_minutes not in PROFILE_INTERVALS
        ):
            raise InvalidValue(
                "interval_minutes", f"must be one of {allowed} minutes, not {interval_minutes!r}"
            )
        stored_interval = interval_minutes
    else:
        if interval_minutes is not None:
            raise InvalidValue(
                "interval_minutes", f"a {kind} channel has no interval; leave it empty"
            )
        stored_interval = NO_INTERVAL
    unit = optional_text(unit, field="unit", max_length=16)
    scaler = clean_int(scaler, "scaler", minimum=SCALER_RANGE.start, maximum=SCALER_RANGE.stop - 1)
    if name is None:
        name = obis if kind != "profile" else f"{obis} {_interval_text(stored_interval)}"
    name = check_name(name, field="name", max_length=NAME_LENGTH)

    same = session.scalars(
        select(Channel).where(
            Channel.virtual_meter_id == virtual_meter.id,
            Channel.obis == obis,
            Channel.interval_minutes == stored_interval,
        )
    ).first()
    if same is not None:
        what = f"every {_interval_text(stored_interval)}" if stored_interval else "without interval"
        raise Conflict(
            "obis",
            f"virtual meter {virtual_meter.name!r} already has channel {same.name!r} for {obis} "
            f"{what}",
        )
    clash = session.scalars(
        select(Channel).where(Channel.virtual_meter_id == virtual_meter.id, Channel.name == name)
    ).first()
    if clash is not None:
        raise Conflict(
            "name", f"virtual meter {virtual_meter.name!r} already has a channel named {name!r}"
        )
    channel = Channel(
        virtual_meter=virtual_meter,
        obis=obis,
        name=name,
        unit=unit,
        scaler=scaler,
        interval_minutes=stored_interval,
        kind=kind,
        enabled=True,
    )
    session.add(channel)
    flush(session, field="obis")
    return channel


# -- enable / disable --------------------------------------------------------------------------


def _set_enabled(session: Session, obj: _T, enabled: bool) -> _T:
    if obj is None or not hasattr(type(obj), "enabled"):
        raise InvalidValue("object", f"{type(obj).__name__} cannot be enabled or disabled")
    obj = in_session(session, obj, "object", type(obj))
    if obj.enabled != enabled:  # type: ignore[attr-defined]
        obj.enabled = enabled  # type: ignore[attr-defined]
        flush(session, field="enabled")
    return obj


def enable(session: Session, obj: _T) -> _T:
    """Enable a metering point, virtual meter, channel, meter or communication device.

    Enabling does not change what the license counts (every virtual meter counts). Returns the
    object as it is in ``session``.
    """
    return _set_enabled(session, obj, True)


def disable(session: Session, obj: _T) -> _T:
    """Disable a metering point, virtual meter, channel, meter or communication device.

    A disabled object stays with its history and data; acquisition and processing skip it.
    Returns the object as it is in ``session``.
    """
    return _set_enabled(session, obj, False)
