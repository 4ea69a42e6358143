"""Jobs: created only when every part is valid; bad input is refused by name, nothing written."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select

from meterhub.db import transaction
from meterhub.errors import Conflict, InvalidValue
from meterhub.inventory import firmware, jobs
from meterhub.model.audit import AuditLog
from meterhub.model.jobs import Job, JobRun
from meterhub.model.tasks import Task


def _counts(runtime) -> tuple[int, int, int]:
    with runtime.sessions() as session:
        return tuple(
            session.scalar(select(func.count()).select_from(table)) for table in (Job, JobRun, Task)
        )


def _refused(runtime, field: str, reason: str, **arguments) -> None:
    before = _counts(runtime)
    with pytest.raises(InvalidValue) as caught:
        with transaction(runtime.sessions, user="alice") as session:
            jobs.create_job(session, **({"name": "bad", "actions": ["read_clock"]} | arguments))
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert _counts(runtime) == before


def test_bad_jobs_are_refused_with_the_offending_part_named(runtime, make_fleet) -> None:
    fleet = make_fleet(1)
    meters = fleet.meter_ids
    _refused(runtime, "meters[0]", "no meter with id 999999", meters=[999_999])
    _refused(runtime, "meters[1]", "no meter with serial number 'NOPE'", meters=[meters[0], "NOPE"])
    _refused(
        runtime, "actions[1].action", "unknown action 'read_mind'",
        actions=["read_clock", "read_mind"], meters=meters,
    )  # fmt: skip
    _refused(
        runtime, "actions[0].parameters.range", "since_last_read",
        actions=[{"action": "read_load_profile", "parameters": {"range": "yesterdayish"}}],
        meters=meters,
    )  # fmt: skip
    _refused(
        runtime, "actions[0].parameters.colour", "unknown parameter",
        actions=[{"action": "read_clock", "parameters": {"colour": "red"}}], meters=meters,
    )  # fmt: skip
    _refused(
        runtime, "actions[0].parameters", "more than tolerance",
        actions=[{"action": "set_clock", "parameters": {"tolerance": 60, "maximum": 30}}],
        meters=meters,
    )  # fmt: skip
    _refused(runtime, "actions", "at least one action", actions=[], meters=meters)
    _refused(runtime, "targets", "at least one meter")
    _refused(
        runtime, "recurrence", "not an RFC 5545 rule",
        kind="scheduled", recurrence="FREQ=FORTNIGHTLY", meters=meters,
    )  # fmt: skip
    _refused(runtime, "recurrence", "needs a recurrence rule", kind="scheduled", meters=meters)
    _refused(runtime, "recurrence", "has no calendar", recurrence="FREQ=DAILY", meters=meters)
    _refused(runtime, "time_zone", "unknown time zone", time_zone="Moon/Base", meters=meters)
    _refused(runtime, "priority", "0 to 9", priority=12, meters=meters)
    _refused(runtime, "groups[0]", "no meter group named 'ghosts'", groups=["ghosts"])
    _refused(runtime, "error_groups[0]", "no error group with id 77", error_groups=[77])
    _refused(
        runtime, "actions[0].parameters.image", "no firmware image 'acme-fw'",
        actions=[{"action": "upgrade_firmware", "parameters": {"image": "acme-fw"}}],
        meters=meters,
    )  # fmt: skip


def test_a_quick_job_reads_one_meter(runtime, make_fleet) -> None:
    fleet = make_fleet(2)
    before = _counts(runtime)
    with pytest.raises(InvalidValue, match="exactly one meter"):
        with transaction(runtime.sessions, user="alice") as session:
            jobs.create_job(
                session, name="q", actions=["read_clock"], meters=fleet.meter_ids, kind="quick"
            )
    assert _counts(runtime) == before


def test_an_action_the_meters_driver_lacks_is_refused(runtime, make_fleet) -> None:
    fleet = make_fleet(1)
    from meterhub.extensions.driver import Action, Driver, DriverInfo

    class ClockOnly(Driver):
        name = "simulated"

        @classmethod
        def info(cls) -> DriverInfo:
            return DriverInfo("simulated", "", frozenset({Action.READ_CLOCK}), "")

        def connect(self, address, settings, medium=None):  # pragma: no cover - never called
            raise AssertionError

    with pytest.raises(InvalidValue) as caught:
        with transaction(runtime.sessions, user="alice") as session:
            jobs.create_job(
                session, name="x", actions=["read_clock", "disconnect_supply"],
                meters=fleet.meter_ids, drivers={"simulated": ClockOnly},
            )  # fmt: skip
    assert caught.value.field == "meters[0]"
    assert "does not support the action 'disconnect_supply'" in caught.value.reason


def test_a_job_is_created_with_its_defaults_audited_and_unique_by_name(runtime, make_fleet) -> None:
    fleet = make_fleet(1)
    now = datetime(2026, 6, 1, 10, 7, tzinfo=UTC)
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session,
            name="quarter-hourly",
            actions=["read_load_profile"],
            meters=[fleet.serials[0]],
            kind="scheduled",
            recurrence="RRULE:FREQ=MINUTELY;INTERVAL=15",
            starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            time_zone="Europe/Prague",
            window_minutes=10,
            exception_dates=["2026-12-24"],
            user="alice",
            now=now,
        )
        assert job.next_run_at == datetime(2026, 6, 1, 10, 15, tzinfo=UTC)
        assert job.actions == [
            {
                "action": "read_load_profile",
                "parameters": {
                    "range": "since_last_read", "hours": 24, "initial_days": 1, "max_days": 31,
                },
            }
        ]  # fmt: skip
        assert job.targets == {"meters": fleet.meter_ids, "groups": [], "error_groups": []}
        assert job.recurrence == "FREQ=MINUTELY;INTERVAL=15"
        job_id = job.id
    with runtime.sessions() as session:
        audit = session.scalars(
            select(AuditLog).where(
                AuditLog.object_type == "acq_job", AuditLog.object_id == str(job_id)
            )
        ).all()
    assert {row.changed_by for row in audit} == {"alice"}
    assert any(row.attribute == "actions" for row in audit)
    with pytest.raises(Conflict, match="a job named 'quarter-hourly' exists"):
        with transaction(runtime.sessions, user="alice") as session:
            jobs.create_job(
                session, name="quarter-hourly", actions=["read_clock"], meters=fleet.meter_ids
            )


def test_firmware_images_keep_their_version_and_hash(runtime) -> None:
    with transaction(runtime.sessions, user="alice") as session:
        image = firmware.add_image(session, name="acme-fw", version="2.1", content=b"\x01" * 3000)
        assert image.size_bytes == 3000 and len(image.sha256) == 64
        with pytest.raises(InvalidValue, match="not 00"):
            firmware.add_image(
                session, name="acme-fw", version="2.2", content=b"x", sha256="00" * 32
            )
        with pytest.raises(InvalidValue, match="empty"):
            firmware.add_image(session, name="acme-fw", version="2.3", content=b"")
        with pytest.raises(Conflict):
            firmware.add_image(session, name="acme-fw", version="2.1", content=b"\x02")


def test_a_change_is_checked_as_a_whole_job_and_the_next_run_follows_it(
    runtime, make_fleet
) -> None:
    fleet = make_fleet(2)
    now = datetime(2026, 6, 1, 10, 7, tzinfo=UTC)
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(
            session, name="hourly", actions=["read_clock"], meters=fleet.meter_ids[:1],
            kind="scheduled", recurrence="FREQ=HOURLY", starts_at=datetime(2026, 1, 1, tzinfo=UTC),
            now=now,
        )  # fmt: skip
        job_id = job.id
    for changes, field in [
        ({"recurrence": "FREQ=NEVER"}, "recurrence"),
        ({"meters": [999_999]}, "meters[0]"),
        ({"actions": ["read_mind"]}, "actions[0].action"),
        ({"priority": 10}, "priority"),
        ({"kind": "quick"}, "kind"),
    ]:
        with pytest.raises(InvalidValue) as caught:
            with transaction(runtime.sessions, user="bob") as session:
                jobs.change_job(session, session.get(Job, job_id), now=now, **changes)
        assert caught.value.field == field
    with runtime.sessions() as session:
        unchanged = session.get(Job, job_id)
        assert unchanged.recurrence == "FREQ=HOURLY" and unchanged.priority == 5
        assert unchanged.next_run_at == datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    with transaction(runtime.sessions, user="bob") as session:
        changed = jobs.change_job(
            session, session.get(Job, job_id), recurrence="FREQ=DAILY;BYHOUR=3",
            meters=fleet.meter_ids, priority=8, now=now,
        )  # fmt: skip
        assert changed.next_run_at == datetime(2026, 6, 2, 3, 0, tzinfo=UTC)
        assert changed.targets["meters"] == fleet.meter_ids
    with transaction(runtime.sessions, user="bob") as session:
        on_demand = jobs.change_job(session, session.get(Job, job_id), recurrence=None, now=now)
        assert (on_demand.kind, on_demand.next_run_at, on_demand.starts_at) == (
            "on_demand", None, None,
        )  # fmt: skip
    with runtime.sessions() as session:
        audited = session.scalars(
            select(AuditLog).where(AuditLog.object_type == "acq_job", AuditLog.changed_by == "bob")
        ).all()
    assert {row.attribute for row in audited} >= {"recurrence", "priority", "targets", "kind"}


def test_a_job_with_a_run_going_on_is_not_deleted(runtime, make_fleet) -> None:
    fleet = make_fleet(1)
    with transaction(runtime.sessions, user="alice") as session:
        job = jobs.create_job(session, name="clock", actions=["read_clock"], meters=fleet.meter_ids)
        run_id = jobs.run_job(session, job, user="alice").id
        job_id = job.id
    with pytest.raises(Conflict, match="have not ended"):
        with transaction(runtime.sessions, user="alice") as session:
            jobs.delete_job(session, session.get(Job, job_id))
    with transaction(runtime.sessions, user="alice") as session:
        jobs.cancel_run(session, run_id, user="alice")
    with transaction(runtime.sessions, user="alice") as session:
        jobs.delete_job(session, session.get(Job, job_id))
    assert _counts(runtime) == (0, 0, 0)
