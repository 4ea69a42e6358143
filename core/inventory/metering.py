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

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.identifiers import canonical_obis, validate_ean18, validate_eic
from meterhub.inventory.common import (
    UNSET,
    Unset,
    check_license_limit,
    check_name,
    clean_int,
    clean_settings,
    delete_unreferenced,
    flush,
    in_session,
    optional_text,
    references_to,
)
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
    "clean_int",
    "clean_settings",
    "in_session",
    "add_channel",
    "change_channel",
    "change_container",
    "change_metering_point",
    "change_virtual_meter",
    "delete_channel",
    "delete_container",
    "delete_metering_point",
    "delete_virtual_meter",
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


# -- changing and deleting ---------------------------------------------------------------------


def change_metering_point(
    session: Session,
    point: MeteringPoint,
    *,
    name: str | Unset = UNSET,
    eic: str | None | Unset = UNSET,
    ean: str | None | Unset = UNSET,
    metering_code: str | None | Unset = UNSET,
    medium: str | Unset = UNSET,
) -> MeteringPoint:
    """Rename a metering point or change its identifiers or medium (checked as on creation)."""
    point = in_session(session, point, "metering_point", MeteringPoint)
    values: dict[str, Any] = {}
    if not isinstance(name, Unset):
        values["name"] = check_name(name, field="name", max_length=NAME_LENGTH)
        clash = session.scalars(
            select(MeteringPoint).where(
                MeteringPoint.element_id == point.element_id,
                MeteringPoint.name == values["name"],
                MeteringPoint.id != point.id,
            )
        ).first()
        if clash is not None:
            raise Conflict("name", f"the element already has a metering point named {name!r}")
    if not isinstance(eic, Unset):
        values["eic"] = None if _blank(eic) else validate_eic(eic, field="eic")  # type: ignore[arg-type]
    if not isinstance(ean, Unset):
        values["ean"] = None if _blank(ean) else validate_ean18(ean, field="ean")  # type: ignore[arg-type]
    if not isinstance(metering_code, Unset):
        code = optional_text(metering_code, field="metering_code", max_length=64)
        if code is not None and not _CODE.fullmatch(code):
            raise InvalidValue(
                "metering_code", "may hold only letters, digits and . _ / - (no spaces)"
            )
        values["metering_code"] = code
    if not isinstance(medium, Unset):
        if medium not in MEDIA:
            raise InvalidValue("medium", f"must be one of {', '.join(MEDIA)}, not {medium!r}")
        values["medium"] = medium
    for field, what in (("eic", "EIC"), ("ean", "EAN"), ("metering_code", "metering code")):
        value = values.get(field)
        if value is not None and value != getattr(point, field):
            _identifier_holder(session, getattr(MeteringPoint, field), value, field, what)
    for key, value in values.items():
        setattr(point, key, value)
    flush(session, field="name")
    return point


def delete_metering_point(session: Session, point: MeteringPoint) -> None:
    """Delete a metering point that has no virtual meters and no containers left."""
    point = in_session(session, point, "metering_point", MeteringPoint)
    delete_unreferenced(session, point, f"metering point {point.name!r}", field="metering_point")


def change_virtual_meter(
    session: Session, virtual_meter: VirtualMeter, *, name: str | Unset = UNSET
) -> VirtualMeter:
    """Rename a virtual meter (unique per metering point)."""
    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    if not isinstance(name, Unset):
        name = check_name(name, field="name", max_length=NAME_LENGTH)
        clash = session.scalars(
            select(VirtualMeter).where(
                VirtualMeter.metering_point_id == virtual_meter.metering_point_id,
                VirtualMeter.name == name,
                VirtualMeter.id != virtual_meter.id,
            )
        ).first()
        if clash is not None:
            raise Conflict("name", f"the metering point has a virtual meter named {name!r}")
        virtual_meter.name = name
    flush(session, field="name")
    return virtual_meter


def delete_virtual_meter(session: Session, virtual_meter: VirtualMeter) -> None:
    """Delete a virtual meter without channels and meter assignments (leaving its groups)."""
    from meterhub.model.groups import MeterGroupMember

    virtual_meter = in_session(session, virtual_meter, "virtual_meter", VirtualMeter)
    what = f"virtual meter {virtual_meter.name!r}"
    references = references_to(session, virtual_meter, ignore={"meter_group_member"})
    if references:
        where = ", ".join(f"{count} {table} row(s)" for table, count in references)
        raise Conflict(
            "virtual_meter", f"{what} is still referenced by {where}; remove those first"
        )
    for member in session.scalars(
        select(MeterGroupMember).where(MeterGroupMember.virtual_meter_id == virtual_meter.id)
    ):
        session.delete(member)
    session.delete(virtual_meter)
    flush(session, field="virtual_meter")


def change_container(
    session: Session, container: Container, *, name: str | Unset = UNSET
) -> Container:
    """Rename a container (unique per metering point)."""
    container = in_session(session, container, "container", Container)
    if not isinstance(name, Unset):
        name = check_name(name, field="name", max_length=NAME_LENGTH)
        clash = session.scalars(
            select(Container).where(
                Container.metering_point_id == container.metering_point_id,
                Container.name == name,
                Container.id != container.id,
            )
        ).first()
        if clash is not None:
            raise Conflict("name", f"the metering point has a container named {name!r}")
        container.name = name
    flush(session, field="name")
    return container


def delete_container(session: Session, container: Container) -> None:
    """Delete a container."""
    container = in_session(session, container, "container", Container)
    delete_unreferenced(session, container, f"container {container.name!r}", field="container")


def change_channel(
    session: Session,
    channel: Channel,
    *,
    name: str | Unset = UNSET,
    unit: str | None | Unset = UNSET,
    scaler: int | Unset = UNSET,
) -> Channel:
    """Rename a channel or change its unit or scaler; OBIS code, kind and interval stay (the
    stored data depend on them: add another channel instead)."""
    channel = in_session(session, channel, "channel", Channel)
    if not isinstance(name, Unset):
        name = check_name(name, field="name", max_length=NAME_LENGTH)
        clash = session.scalars(
            select(Channel).where(
                Channel.virtual_meter_id == channel.virtual_meter_id,
                Channel.name == name,
                Channel.id != channel.id,
            )
        ).first()
        if clash is not None:
            raise Conflict("name", f"the virtual meter has a channel named {name!r}")
    if not isinstance(unit, Unset):
        unit = optional_text(unit, field="unit", max_length=16)
    if not isinstance(scaler, Unset):
        scaler = clean_int(
            scaler, "scaler", minimum=SCALER_RANGE.start, maximum=SCALER_RANGE.stop - 1
        )
    if not isinstance(name, Unset):
        channel.name = name
    if not isinstance(unit, Unset):
        channel.unit = unit
    if not isinstance(scaler, Unset):
        channel.scaler = scaler
    flush(session, field="name")
    return channel


def delete_channel(session: Session, channel: Channel) -> None:
    """Delete a channel that holds no meter data (its data would lose their series)."""
    channel = in_session(session, channel, "channel", Channel)
    delete_unreferenced(session, channel, f"channel {channel.name!r}", field="channel")
