"""Editing of interval values: manual substitutes for one value or a span, locks, rebuilding
from raw, and the release of periods for billing.

Every edit goes through the store's versioning (a new version with user, reason and comment) and
fires ``values_edited``. A period released for billing changes only when the caller says so
(``released_ok``) with a reason: the release is then revoked in the same transaction as the
change (who, when, why), and the period must be released again; what was released when stays
on record (``vee_release``), and :meth:`Editing.released_values` reads it back as it was.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from meterhub.errors import Conflict, InvalidValue, NotFound
from meterhub.model.vee import BillingRelease
from meterhub.timeseries import IntervalData, MeterDataStore, UnitOfWork, WriteReport
from meterhub.timeseries.flags import Flag

__all__ = ["Editing", "ReleaseInfo"]

_MANUAL = np.uint32(Flag.MANUAL | Flag.SUBSTITUTED | Flag.VALIDATED)
_LOCKED = np.uint32(Flag.LOCKED)
_SUSPECT = np.uint32(Flag.SUSPECT)
_VALIDATED = np.uint32(Flag.VALIDATED)


@dataclass(frozen=True)
class ReleaseInfo:
    """One release of a channel's period for billing."""

    id: int
    channel_id: int
    start: datetime
    end: datetime
    released_at: datetime
    released_by: str
    note: str | None
    revoked_at: datetime | None
    revoked_by: str | None
    revoke_reason: str | None


def _info(row: BillingRelease) -> ReleaseInfo:
    return ReleaseInfo(
        row.id,
        row.channel_id,
        row.period_start,
        row.period_end,
        row.released_at,
        row.released_by,
        row.note,
        row.revoked_at,
        row.revoked_by,
        row.revoke_reason,
    )


def _aware(value: datetime, field: str) -> datetime:
    if not isinstance(value, datetime) or value.tzinfo is None:
        raise InvalidValue(field, "give an aware date and time")
    return value.astimezone(UTC)


class Editing:
    """Manual edits and billing releases on one store (see the module docstring)."""

    def __init__(
        self,
        store: MeterDataStore,
        sessions: sessionmaker[Session],
        *,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.sessions = sessions
        self.clock = clock or (lambda: datetime.now(UTC))

    # -- releases ----------------------------------------------------------------------------

    def _active(
        self, session: Session, channel_ids: Sequence[int], start: datetime, end: datetime
    ) -> list[BillingRelease]:
        return list(
            session.scalars(
                select(BillingRelease).where(
                    BillingRelease.channel_id.in_(list(channel_ids)),
                    BillingRelease.revoked_at.is_(None),
                    BillingRelease.period_start < end,
                    BillingRelease.period_end > start,
                )
            )
        )

    def _guard(
        self,
        uow: UnitOfWork,
        channel_ids: Sequence[int],
        start: datetime,
        end: datetime,
        released_ok: bool,
        user: str,
        reason: str,
    ) -> None:
        """Refuse a change of a released period, or revoke the releases it touches."""
        with Session(bind=uow.connection) as session:
            found = self._active(session, channel_ids, start, end)
            if not found:
                return
            if not released_ok:
                first = found[0]
                raise Conflict(
                    "period",
                    f"channel {first.channel_id} is released for billing from "
                    f"{first.period_start.isoformat()} to {first.period_end.isoformat()} "
                    f"(by {first.released_by} at {first.released_at.isoformat()}); changing it "
                    "needs released_ok and a reason, and a new release afterwards",
                )
            now = self.clock()
            for release in found:
                release.revoked_at = now
                release.revoked_by = user
                release.revoke_reason = reason
            session.flush()

    def release(
        self, channel_id: int, start: datetime, end: datetime, *, user: str, note: str | None = None
    ) -> ReleaseInfo:
        """Release ``[start, end)`` of a channel for billing: every interval must hold a value
        that validation ran over and found plausible (or that was estimated or entered)."""
        start, end = _aware(start, "start"), _aware(end, "end")
        if end <= start:
            raise InvalidValue("end", "a release period must end after it starts")
        if not user or not user.strip():
            raise InvalidValue("user", "say who releases")

        def work(uow: UnitOfWork) -> ReleaseInfo:
            data = uow.read_intervals([channel_id], start, end)
            values, flags = data.values[0], data.flags[0]
            empty = int(np.isnan(values).sum())
            unchecked = int(((flags & _VALIDATED) == 0).sum())
            suspect = int(((flags & _SUSPECT) != 0).sum())
            if empty or unchecked or suspect:
                raise InvalidValue(
                    "period",
                    f"channel {channel_id} cannot be released: {empty} intervals without a "
                    f"value, {unchecked} not validated, {suspect} suspect",
                )
            with Session(bind=uow.connection) as session:
                if self._active(session, [channel_id], start, end):
                    raise Conflict(
                        "period", f"channel {channel_id} is already released in this period"
                    )
                row = BillingRelease(
                    channel_id=channel_id,
                    period_start=start,
                    period_end=end,
                    released_at=self.clock(),
                    released_by=user,
                    note=note,
                )
                session.add(row)
                session.flush()
                return _info(row)

        return self.store.run_unit_of_work(work)

    def releases(self, channel_id: int) -> list[ReleaseInfo]:
        """Every release of a channel, revoked ones included, oldest first."""
        with self.sessions() as session:
            rows = session.scalars(
                select(BillingRelease)
                .where(BillingRelease.channel_id == channel_id)
                .order_by(BillingRelease.released_at, BillingRelease.id)
            ).all()
            return [_info(row) for row in rows]

    def released_values(self, release_id: int) -> IntervalData:
        """The values of a release as they were when it was released."""
        with self.sessions() as session:
            row = session.get(BillingRelease, release_id)
            if row is None:
                raise NotFound(f"no billing release {release_id}")
            info = _info(row)
        return self.store.read_intervals(
            [info.channel_id], info.start, info.end, as_of=info.released_at
        )

    # -- edits -------------------------------------------------------------------------------

    def substitute(
        self,
        channel_id: int,
        start: datetime,
        values: Sequence[float] | np.ndarray | float,
        *,
        end: datetime | None = None,
        user: str,
        reason: str,
        comment: str | None = None,
        lock: bool = True,
        released_ok: bool = False,
    ) -> WriteReport:
        """Replace one value or a span by hand (``values`` one per interval from ``start``, or
        one number for every interval up to ``end``); flagged ``MANUAL`` and ``SUBSTITUTED``,
        and ``LOCKED`` unless ``lock`` is false."""
        start = _aware(start, "start")
        info = self.store.channel_info([channel_id])[0]
        step = timedelta(minutes=info.interval_minutes)
        if np.ndim(values) == 0:
            if end is None:
                end = start + step
            count = int((_aware(end, "end") - start) / step)
            if count <= 0:
                raise InvalidValue("end", "the span must end after it starts")
            row = np.full(count, float(values))  # type: ignore[arg-type]
        else:
            row = np.asarray(values, dtype=np.float64).reshape(-1)
            if row.size == 0:
                raise InvalidValue("values", "give at least one value")
        finish = start + step * row.size
        flags = np.full(row.size, _MANUAL | (_LOCKED if lock else np.uint32(0)), dtype=np.uint32)

        def work(uow: UnitOfWork) -> WriteReport:
            self._guard(uow, [channel_id], start, finish, released_ok, user, reason)
            return uow.write_normalized(
                [channel_id],
                start,
                row.reshape(1, -1),
                flags.reshape(1, -1),
                user=user,
                reason=reason,
                comment=comment,
            )

        return self.store.run_unit_of_work(work)

    def _set_lock(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        locked: bool,
        user: str,
        reason: str,
        released_ok: bool,
    ) -> WriteReport:
        start, end = _aware(start, "start"), _aware(end, "end")

        def work(uow: UnitOfWork) -> WriteReport:
            self._guard(uow, [channel_id], start, end, released_ok, user, reason)
            data = uow.read_intervals([channel_id], start, end)
            flags = data.flags | _LOCKED if locked else data.flags & ~_LOCKED
            present = ~np.isnan(data.values)
            if not present.any():
                return WriteReport()
            return uow.write_normalized(
                [channel_id], start, None, flags, where=present, user=user, reason=reason
            )

        return self.store.run_unit_of_work(work)

    def lock(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        *,
        user: str,
        reason: str,
        released_ok: bool = False,
    ) -> WriteReport:
        """Lock the values of ``[start, end)`` against estimation and recalculation."""
        return self._set_lock(channel_id, start, end, True, user, reason, released_ok)

    def unlock(
        self,
        channel_id: int,
        start: datetime,
        end: datetime,
        *,
        user: str,
        reason: str,
        released_ok: bool = False,
    ) -> WriteReport:
        """Lift the lock of ``[start, end)``."""
        return self._set_lock(channel_id, start, end, False, user, reason, released_ok)

    def recalculate_from_raw(
        self,
        channel_ids: Sequence[int],
        start: datetime,
        end: datetime,
        *,
        user: str,
        reason: str,
        comment: str | None = None,
        released_ok: bool = False,
    ) -> WriteReport:
        """Rebuild ``[start, end)`` from raw with the current formulas, dropping edits and
        estimates (they stay in the history; run validation again afterwards)."""
        start, end = _aware(start, "start"), _aware(end, "end")

        def work(uow: UnitOfWork) -> WriteReport:
            self._guard(uow, channel_ids, start, end, released_ok, user, reason)
            return uow.recalculate(
                channel_ids, start, end, keep_edits=False, user=user, reason=reason, comment=comment
            )

        return self.store.run_unit_of_work(work)
