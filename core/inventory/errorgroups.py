"""Operations on error groups: find them, list their members (meter and the error).

Error groups are made by the acquisition engine (:mod:`meterhub.model.errorgroups`); a job can
target them to run the failed meters again (:func:`meterhub.inventory.jobs.rerun_error_group`).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from meterhub.errors import NotFound
from meterhub.model.errorgroups import ErrorGroup, ErrorGroupMember
from meterhub.model.meters import Meter

__all__ = ["error_groups", "find_error_group", "members"]


def find_error_group(session: Session, ref: int | str) -> ErrorGroup:
    """An error group by id or name."""
    group = None
    if isinstance(ref, int) or str(ref).strip().isdigit():
        group = session.get(ErrorGroup, int(ref))
    if group is None:
        group = session.scalars(select(ErrorGroup).where(ErrorGroup.name == str(ref))).first()
    if group is None:
        raise NotFound(f"no error group {ref!r}")
    return group


def error_groups(session: Session) -> list[ErrorGroup]:
    """Every error group, newest first."""
    return list(session.scalars(select(ErrorGroup).order_by(ErrorGroup.id.desc())))


def members(session: Session, group: ErrorGroup) -> list[tuple[Meter, ErrorGroupMember]]:
    """The meters of ``group`` with the error that put each there, by serial number."""
    rows = session.execute(
        select(Meter, ErrorGroupMember)
        .join(ErrorGroupMember, ErrorGroupMember.meter_id == Meter.id)
        .where(ErrorGroupMember.group_id == group.id)
        .order_by(Meter.serial_number)
    ).all()
    return [(meter, member) for meter, member in rows]
