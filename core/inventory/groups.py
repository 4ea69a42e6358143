"""Operations on meter groups: named sets of virtual meters (for reading jobs, reports, exports).

Adding a virtual meter that is already a member, or removing one that is not, changes nothing:
membership is a set, and the functions return what they changed.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import Conflict
from meterhub.inventory.common import check_name, delete_unreferenced, flush, in_session
from meterhub.model.groups import MeterGroup, MeterGroupMember
from meterhub.model.metering import NAME_LENGTH, VirtualMeter

__all__ = [
    "add_members",
    "create_group",
    "delete_group",
    "members",
    "remove_members",
    "rename_group",
]


def create_group(session: Session, *, name: str) -> MeterGroup:
    """Create an empty meter group named ``name`` (unique among groups)."""
    name = check_name(name, field="name", max_length=NAME_LENGTH)
    clash = session.scalars(select(MeterGroup).where(MeterGroup.name == name)).first()
    if clash is not None:
        raise Conflict("name", f"a meter group named {name!r} exists (id {clash.id})")
    group = MeterGroup(name=name)
    session.add(group)
    flush(session, field="name")
    return group


def _virtual_meters(session: Session, virtual_meters: Iterable[VirtualMeter]) -> list[VirtualMeter]:
    """The virtual meters as instances of ``session``, each once, in the order given."""
    if isinstance(virtual_meters, VirtualMeter):
        virtual_meters = [virtual_meters]
    result: dict[int, VirtualMeter] = {}
    for index, item in enumerate(virtual_meters):
        meter = in_session(session, item, f"virtual_meters[{index}]", VirtualMeter)
        result.setdefault(meter.id, meter)
    return list(result.values())


def _member_ids(session: Session, group: MeterGroup) -> set[int]:
    return set(
        session.scalars(
            select(MeterGroupMember.virtual_meter_id).where(MeterGroupMember.group_id == group.id)
        )
    )


def add_members(
    session: Session, group: MeterGroup, virtual_meters: Iterable[VirtualMeter]
) -> list[VirtualMeter]:
    """Add ``virtual_meters`` to ``group``; returns those that were not members before."""
    group = in_session(session, group, "group", MeterGroup)
    wanted = _virtual_meters(session, virtual_meters)
    present = _member_ids(session, group)
    added = [meter for meter in wanted if meter.id not in present]
    for meter in added:
        session.add(MeterGroupMember(group=group, virtual_meter=meter))
    if added:
        flush(session, field="virtual_meters")
    return added


def remove_members(
    session: Session, group: MeterGroup, virtual_meters: Iterable[VirtualMeter]
) -> list[VirtualMeter]:
    """Remove ``virtual_meters`` from ``group``; returns those that were members."""
    group = in_session(session, group, "group", MeterGroup)
    wanted = {meter.id: meter for meter in _virtual_meters(session, virtual_meters)}
    rows = (
        session.scalars(
            select(MeterGroupMember).where(
                MeterGroupMember.group_id == group.id,
                MeterGroupMember.virtual_meter_id.in_(list(wanted)),
            )
        ).all()
        if wanted
        else []
    )
    for row in rows:
        session.delete(row)
    if rows:
        flush(session, field="virtual_meters")
    return [wanted[row.virtual_meter_id] for row in rows]


def members(session: Session, group: MeterGroup) -> list[VirtualMeter]:
    """The virtual meters of ``group``, ordered by name then id."""
    group = in_session(session, group, "group", MeterGroup)
    return list(
        session.scalars(
            select(VirtualMeter)
            .join(MeterGroupMember, MeterGroupMember.virtual_meter_id == VirtualMeter.id)
            .where(MeterGroupMember.group_id == group.id)
            .order_by(VirtualMeter.name, VirtualMeter.id)
        )
    )


def rename_group(session: Session, group: MeterGroup, name: str) -> MeterGroup:
    """Rename a group (unique among groups)."""
    group = in_session(session, group, "group", MeterGroup)
    name = check_name(name, field="name", max_length=NAME_LENGTH)
    clash = session.scalars(
        select(MeterGroup).where(MeterGroup.name == name, MeterGroup.id != group.id)
    ).first()
    if clash is not None:
        raise Conflict("name", f"a meter group named {name!r} exists (id {clash.id})")
    group.name = name
    flush(session, field="name")
    return group


def delete_group(session: Session, group: MeterGroup) -> None:
    """Delete a group with its memberships (the virtual meters stay)."""
    group = in_session(session, group, "group", MeterGroup)
    for row in session.scalars(
        select(MeterGroupMember).where(MeterGroupMember.group_id == group.id)
    ):
        session.delete(row)
    flush(session, field="group")
    delete_unreferenced(session, group, f"meter group {group.name!r}", field="group")
