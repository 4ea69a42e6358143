"""Which profile applies to which channel, with which parameter overrides.

A profile is assigned to channels directly, to the channels of a meter group's virtual meters,
or to the channels of the virtual meters on a template's elements. When several assignments of
the same profile reach one channel, the most specific one's ``overrides`` count: the channel's
own, then its groups' (lowest group id first), then its template's.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import func, select

from meterhub.db import id_in
from meterhub.model.elements import Element
from meterhub.model.groups import MeterGroupMember
from meterhub.model.metering import Channel, MeteringPoint, VirtualMeter
from meterhub.model.vee import ProfileAssignment, ValidationProfile

__all__ = ["resolve"]

#: Channel ids per statement (Oracle refuses more than 1,000 in one IN list).
CHUNK = 500


def resolve(
    conn: Any,
    *,
    profile_ids: Iterable[int] | None = None,
    channel_ids: Iterable[int] | None = None,
    at_ingest: bool | None = None,
) -> dict[tuple[int, int], dict[str, Any]]:
    """``(channel id, profile id) → overrides`` of every enabled profile's assignments, limited
    to ``profile_ids`` and/or ``channel_ids`` and/or profiles with ``at_ingest`` when given.
    Only profile (interval) channels are resolved."""
    pa = ProfileAssignment.__table__
    profile = ValidationProfile.__table__
    channel = Channel.__table__
    wanted_channels = None if channel_ids is None else sorted(set(channel_ids))
    chunks: list[list[int] | None] = (
        [None]
        if wanted_channels is None
        else [wanted_channels[i : i + CHUNK] for i in range(0, len(wanted_channels), CHUNK)]
    )

    def limit(statement: Any, chunk: list[int] | None) -> Any:
        statement = statement.where(profile.c.enabled.is_(True), channel.c.kind == "profile")
        if profile_ids is not None:
            statement = statement.where(pa.c.profile_id.in_(sorted(set(profile_ids))))
        if at_ingest is not None:
            statement = statement.where(profile.c.at_ingest.is_(at_ingest))
        if chunk is not None:
            statement = statement.where(id_in(conn, channel.c.id, chunk))
        return statement

    # Which kinds of assignment exist at all (one small query): a store without, say, any
    # template assignment of an ingest profile pays nothing for the template join of its
    # channels, and one without any ingest profile pays only this query per write.
    kinds = select(
        func.count(pa.c.channel_id), func.count(pa.c.group_id), func.count(pa.c.template_id)
    ).select_from(pa.join(profile, profile.c.id == pa.c.profile_id))
    kinds = kinds.where(profile.c.enabled.is_(True))
    if profile_ids is not None:
        kinds = kinds.where(pa.c.profile_id.in_(sorted(set(profile_ids))))
    if at_ingest is not None:
        kinds = kinds.where(profile.c.at_ingest.is_(at_ingest))
    by_channel, by_group, by_template = conn.execute(kinds).one()
    if not (by_channel or by_group or by_template):
        return {}
    found: dict[tuple[int, int], tuple[int, dict[str, Any]]] = {}

    def keep(rank: int, rows: Iterable[Any]) -> None:
        for channel_id, profile_id, overrides in rows:
            key = (int(channel_id), int(profile_id))
            current = found.get(key)
            if current is None or rank < current[0]:
                found[key] = (rank, dict(overrides or {}))

    for chunk in chunks:
        direct = select(channel.c.id, pa.c.profile_id, pa.c.overrides).select_from(
            channel.join(pa, pa.c.channel_id == channel.c.id).join(
                profile, profile.c.id == pa.c.profile_id
            )
        )
        if by_channel:
            keep(0, conn.execute(limit(direct, chunk)).all())
        member = MeterGroupMember.__table__
        grouped = (
            select(channel.c.id, pa.c.profile_id, pa.c.overrides)
            .select_from(
                channel.join(member, member.c.virtual_meter_id == channel.c.virtual_meter_id)
                .join(pa, pa.c.group_id == member.c.group_id)
                .join(profile, profile.c.id == pa.c.profile_id)
            )
            .order_by(pa.c.group_id)
        )
        if by_group:
            keep(1, conn.execute(limit(grouped, chunk)).all())  # the lowest group id comes first
        vm = VirtualMeter.__table__
        mp = MeteringPoint.__table__
        element = Element.__table__
        templated = select(channel.c.id, pa.c.profile_id, pa.c.overrides).select_from(
            channel.join(vm, vm.c.id == channel.c.virtual_meter_id)
            .join(mp, mp.c.id == vm.c.metering_point_id)
            .join(element, element.c.id == mp.c.element_id)
            .join(pa, pa.c.template_id == element.c.template_id)
            .join(profile, profile.c.id == pa.c.profile_id)
        )
        if by_template:
            keep(2, conn.execute(limit(templated, chunk)).all())
    return {key: overrides for key, (_, overrides) in found.items()}
