"""Data segments, enforced in one place: which objects a user may see and change.

A :class:`Scope` is either unrestricted (roles with ``all_segments`` or ``administration``) or
limited to the data segments granted to the user. :meth:`Scope.restrict` adds the condition of
an object type to any SQL statement; the REST API runs every list, look-up, search, change and
deletion through it, and the meter data endpoints check their channels with
:meth:`Scope.visible_channel_ids`. An element is visible when it or an ancestor is assigned to
a granted segment; everything hanging on the tree follows from its element:

========================  ===============================================================
object type               visible when
========================  ===============================================================
element                   it or an ancestor is in a granted segment
metering_point            its element is visible
virtual_meter, container  its metering point is visible
channel, meter_data       its virtual meter is visible
meter                     it serves or served a visible virtual meter, or never served any
communication_path        its meter is visible
communication_device      it has a path to a visible meter, or no path at all
group                     it has a visible member, or no member at all
segment                   it is granted to the user
user, api_token           the user's segments are all granted to the viewer (own: always)
audit_log                 the object it names is visible (types not in segments: always)
task                      its meter is visible
job_run                   its job is visible and none of its tasks is on a meter not visible
job                       the user made it, or it has run and every task of its runs was on
                          a visible meter
error_group               every meter in it is visible (an empty group: always)
calculation               its target and every input channel are visible
billing_release           its channel is visible
vee_run                   the user started it (runs through the API cover only visible
                          channels)
statistic                 a virtual meter row: its virtual meter is visible; a device row:
                          the device has a path to a visible meter; a path row: its meter
                          is visible; the summary (the whole fleet): never
========================  ===============================================================

Object types that are not in the table (templates, roles, system parameters, firmware images,
validation profiles, scripts) are not segment data: whoever may view them sees all of them. A
capability that adds objects hanging on the tree adds a rule to :data:`VISIBILITY` (and, for
the audit log, its table to :data:`AUDIT_TABLES`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, false, or_, select, true
from sqlalchemy.orm import aliased

from meterhub.model.audit import AuditLog
from meterhub.model.calculations import CalculationDefinition, CalculationInput
from meterhub.model.devices import CommunicationDevice, CommunicationPath
from meterhub.model.elements import Element
from meterhub.model.errorgroups import ErrorGroup, ErrorGroupMember
from meterhub.model.groups import MeterGroup, MeterGroupMember
from meterhub.model.jobs import Job, JobRun
from meterhub.model.metering import Channel, Container, MeteringPoint, VirtualMeter
from meterhub.model.meters import Meter, MeterAssignment
from meterhub.model.segments import DataSegment, ElementSegment
from meterhub.model.statistics import CommunicationStatistic
from meterhub.model.tasks import Task
from meterhub.model.tokens import ApiToken
from meterhub.model.users import AppUser, UserSegment
from meterhub.model.vee import BillingRelease, ValidationRun

S = TypeVar("S", bound=Select[Any])


@dataclass(frozen=True)
class Scope:
    """What one user may see: everything (``segment_ids`` ``None``) or some segments' data."""

    segment_ids: frozenset[int] | None = None
    user_id: int | None = None

    @property
    def unrestricted(self) -> bool:
        """Whether the user sees the data of every segment."""
        return self.segment_ids is None

    # -- the building blocks: ids of visible objects, as subqueries ----------------------------

    def element_ids(self) -> Select[Any]:
        """``SELECT id`` of the visible elements (a recursive query down the tree)."""
        if self.segment_ids is None:
            return select(Element.id)
        return select(self._visible_tree.c.id)

    @cached_property
    def _visible_tree(self) -> Any:
        """The recursive query of the visible elements: one per scope, so that a statement
        using it in several places renders it once."""
        seed = select(ElementSegment.element_id.label("id")).where(
            ElementSegment.segment_id.in_(sorted(self.segment_ids or ()))
        )
        tree = seed.cte("visible_element", recursive=True)
        return tree.union_all(select(Element.id).where(Element.parent_id == tree.c.id))

    def metering_point_ids(self) -> Select[Any]:
        """``SELECT id`` of the visible metering points."""
        return select(MeteringPoint.id).where(MeteringPoint.element_id.in_(self.element_ids()))

    def virtual_meter_ids(self) -> Select[Any]:
        """``SELECT id`` of the visible virtual meters."""
        return select(VirtualMeter.id).where(
            VirtualMeter.metering_point_id.in_(self.metering_point_ids())
        )

    def channel_ids(self) -> Select[Any]:
        """``SELECT id`` of the visible channels."""
        return select(Channel.id).where(Channel.virtual_meter_id.in_(self.virtual_meter_ids()))

    def meter_ids(self) -> Select[Any]:
        """``SELECT id`` of the visible meters."""
        return select(Meter.id).where(self.condition("meter"))

    def user_ids(self) -> Select[Any]:
        """``SELECT id`` of the visible users."""
        return select(AppUser.id).where(self.condition("user"))

    # -- conditions per object type -----------------------------------------------------------

    def condition(self, object_type: str) -> ColumnElement[bool]:
        """The SQL condition on the object type's table that keeps the visible rows."""
        if self.segment_ids is None:
            return true()
        rule = VISIBILITY.get(object_type)
        return rule(self) if rule is not None else true()

    def restrict(self, statement: S, object_type: str) -> S:
        """``statement`` (a ``select`` of the object type's table) limited to visible rows."""
        if self.segment_ids is None or object_type not in VISIBILITY:
            return statement
        return statement.where(self.condition(object_type))

    def visible_channel_ids(self, session: Any, channel_ids: Iterable[int]) -> set[int]:
        """Those of ``channel_ids`` the user may see."""
        wanted = sorted({int(i) for i in channel_ids})
        if not wanted:
            return set()
        statement = select(Channel.id).where(Channel.id.in_(wanted))
        return set(session.scalars(self.restrict(statement, "channel")))


def _meter(scope: Scope) -> ColumnElement[bool]:
    served = select(MeterAssignment.meter_id).where(
        MeterAssignment.virtual_meter_id.in_(scope.virtual_meter_ids())
    )
    never_served = ~exists().where(MeterAssignment.meter_id == Meter.id)
    return or_(Meter.id.in_(served), never_served)


def _device(scope: Scope) -> ColumnElement[bool]:
    used = select(CommunicationPath.device_id).where(
        CommunicationPath.meter_id.in_(scope.meter_ids())
    )
    unused = ~exists().where(CommunicationPath.device_id == CommunicationDevice.id)
    return or_(CommunicationDevice.id.in_(used), unused)


def _group(scope: Scope) -> ColumnElement[bool]:
    seen = select(MeterGroupMember.group_id).where(
        MeterGroupMember.virtual_meter_id.in_(scope.virtual_meter_ids())
    )
    empty = ~exists().where(MeterGroupMember.group_id == MeterGroup.id)
    return or_(MeterGroup.id.in_(seen), empty)


def _user(scope: Scope) -> ColumnElement[bool]:
    granted = sorted(scope.segment_ids or ())
    foreign = exists().where(
        UserSegment.user_id == AppUser.id, UserSegment.segment_id.not_in(granted)
    )
    own = AppUser.id == scope.user_id if scope.user_id is not None else false()
    return or_(own, ~foreign)


def _foreign_task(scope: Scope, run_id: Any) -> ColumnElement[bool]:
    """Whether run ``run_id`` has a task on a meter the user may not see."""
    task = aliased(Task)
    return exists().where(task.run_id == run_id, task.meter_id.not_in(scope.meter_ids()))


def _job(scope: Scope) -> ColumnElement[bool]:
    run = aliased(JobRun)
    own = Job.created_by.in_(_username(scope)) if scope.user_id is not None else false()
    has_run = exists().where(run.job_id == Job.id)
    foreign = exists().where(run.job_id == Job.id, _foreign_task(scope, run.id))
    return or_(own, and_(has_run, ~foreign))


def _calculation(scope: Scope) -> ColumnElement[bool]:
    item = aliased(CalculationInput)
    foreign = exists().where(
        item.definition_id == CalculationDefinition.id, item.channel_id.not_in(scope.channel_ids())
    )
    return and_(CalculationDefinition.target_channel_id.in_(scope.channel_ids()), ~foreign)


def _username(scope: Scope) -> Select[Any]:
    return select(AppUser.username).where(AppUser.id == scope.user_id)


def _vee_run(scope: Scope) -> ColumnElement[bool]:
    if scope.user_id is None:
        return false()
    return ValidationRun.user_name.in_(_username(scope))


def _run(scope: Scope) -> ColumnElement[bool]:
    jobs = select(Job.id).where(_job(scope))
    return and_(JobRun.job_id.in_(jobs), ~_foreign_task(scope, JobRun.id))


def _error_group(scope: Scope) -> ColumnElement[bool]:
    member = aliased(ErrorGroupMember)
    foreign = exists().where(
        member.group_id == ErrorGroup.id, member.meter_id.not_in(scope.meter_ids())
    )
    return ~foreign


def _statistic(scope: Scope) -> ColumnElement[bool]:
    """Rows of visible virtual meters, and of the devices and paths of visible meters (a
    device or path whose meters are gone is not shown, unlike the device itself)."""
    meters = scope.meter_ids()
    row = CommunicationStatistic
    return or_(
        and_(row.scope == "virtual_meter", row.scope_id.in_(scope.virtual_meter_ids())),
        and_(
            row.scope == "device",
            row.scope_id.in_(
                select(CommunicationPath.device_id).where(CommunicationPath.meter_id.in_(meters))
            ),
        ),
        and_(
            row.scope == "path",
            row.scope_id.in_(
                select(CommunicationPath.id).where(CommunicationPath.meter_id.in_(meters))
            ),
        ),
    )


def _ids_as_text(ids: Select[Any]) -> Select[Any]:
    column = ids.selected_columns[0]
    return ids.with_only_columns(cast(column, String))


#: Audit log ``object_type`` (a table name) → the ids of the visible objects of that table.
AUDIT_TABLES: Mapping[str, Callable[[Scope], Select[Any]]] = {
    "element": Scope.element_ids,
    "metering_point": Scope.metering_point_ids,
    "virtual_meter": Scope.virtual_meter_ids,
    "container": lambda s: select(Container.id).where(
        Container.metering_point_id.in_(s.metering_point_ids())
    ),
    "channel": Scope.channel_ids,
    "meter": Scope.meter_ids,
    "meter_assignment": lambda s: select(MeterAssignment.id).where(
        MeterAssignment.virtual_meter_id.in_(s.virtual_meter_ids())
    ),
    "communication_device": lambda s: select(CommunicationDevice.id).where(_device(s)),
    "communication_path": lambda s: select(CommunicationPath.id).where(
        CommunicationPath.meter_id.in_(s.meter_ids())
    ),
    "meter_group": lambda s: select(MeterGroup.id).where(_group(s)),
    "meter_group_member": lambda s: select(MeterGroupMember.id).where(
        MeterGroupMember.virtual_meter_id.in_(s.virtual_meter_ids())
    ),
    "data_segment": lambda s: select(DataSegment.id).where(
        DataSegment.id.in_(sorted(s.segment_ids or ()))
    ),
    "app_user": Scope.user_ids,
    "api_token": lambda s: select(ApiToken.id).where(ApiToken.user_id.in_(s.user_ids())),
    "acq_job": lambda s: select(Job.id).where(_job(s)),
    "calc_definition": lambda s: select(CalculationDefinition.id).where(_calculation(s)),
    "vee_release": lambda s: select(BillingRelease.id).where(
        BillingRelease.channel_id.in_(s.channel_ids())
    ),
}

#: Tables whose audit rows every viewer of the audit log sees (definitions, not segment data).
UNSEGMENTED_TABLES: frozenset[str] = frozenset(
    {
        "template",
        "template_attribute",
        "role",
        "role_permission",
        "system_parameter",
        "acq_firmware_image",
        "vee_profile",
        "vee_step",
        "script",
        "script_version",
    }
)


def _audit(scope: Scope) -> ColumnElement[bool]:
    visible = [
        and_(AuditLog.object_type == table, AuditLog.object_id.in_(_ids_as_text(ids(scope))))
        for table, ids in AUDIT_TABLES.items()
    ]
    return or_(AuditLog.object_type.in_(sorted(UNSEGMENTED_TABLES)), *visible)


#: Object type → its visibility condition for a restricted scope.
VISIBILITY: Mapping[str, Callable[[Scope], ColumnElement[bool]]] = {
    "element": lambda s: Element.id.in_(s.element_ids()),
    "metering_point": lambda s: MeteringPoint.element_id.in_(s.element_ids()),
    "virtual_meter": lambda s: VirtualMeter.metering_point_id.in_(s.metering_point_ids()),
    "container": lambda s: Container.metering_point_id.in_(s.metering_point_ids()),
    "channel": lambda s: Channel.virtual_meter_id.in_(s.virtual_meter_ids()),
    "meter_data": lambda s: Channel.virtual_meter_id.in_(s.virtual_meter_ids()),
    "meter": _meter,
    "communication_path": lambda s: CommunicationPath.meter_id.in_(s.meter_ids()),
    "communication_device": _device,
    "group": _group,
    "segment": lambda s: DataSegment.id.in_(sorted(s.segment_ids or ())),
    "user": _user,
    "api_token": lambda s: ApiToken.user_id.in_(s.user_ids()),
    "audit_log": _audit,
    "task": lambda s: Task.meter_id.in_(s.meter_ids()),
    "job_run": _run,
    "job": _job,
    "error_group": _error_group,
    "vee_run": _vee_run,
    "calculation": _calculation,
    "billing_release": lambda s: BillingRelease.channel_id.in_(s.channel_ids()),
    "statistic": _statistic,
}
