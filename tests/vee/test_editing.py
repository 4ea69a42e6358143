"""Editing: manual substitutes with reason and comment, locks, rebuild from raw, and billing
releases that a change revokes (with reason) while what was released stays on record."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pytest
from vee_fixtures import DAY0, QUARTER, Fleet

from meterhub.errors import Conflict, InvalidValue
from meterhub.runtime import Runtime
from meterhub.timeseries import Flag


def _validated(runtime: Runtime, ids: list[int], values: np.ndarray) -> None:
    runtime.store.write_intervals(ids, DAY0, values)
    flags = np.full(values.shape, Flag.VALIDATED, dtype=np.uint32)
    runtime.store.write_normalized(
        ids, DAY0, flags=flags, user="vee", reason="validation", kind="validated"
    )


def test_substitute_a_span_with_reason_and_comment(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    runtime.store.write_intervals(ids, DAY0, np.full((1, 8), 0.5))
    runtime.editing.substitute(
        ids[0],
        DAY0 + 2 * QUARTER,
        0.7,
        end=DAY0 + 5 * QUARTER,
        user="ann",
        reason="meter replaced",
        comment="ticket 42",
    )
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + 8 * QUARTER)
    assert data.values[0].tolist() == [0.5, 0.5, 0.7, 0.7, 0.7, 0.5, 0.5, 0.5]
    assert (data.flags[0, 2:5] & (Flag.MANUAL | Flag.LOCKED | Flag.SUBSTITUTED)).all()
    history = runtime.store.value_history(ids[0], DAY0 + 3 * QUARTER)
    assert (history[-1].user, history[-1].reason, history[-1].comment) == (
        "ann",
        "meter replaced",
        "ticket 42",
    )
    assert history[-1].old_value == 0.5 and history[-1].new_value == 0.7


def test_lock_and_unlock(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    runtime.store.write_intervals(ids, DAY0, np.full((1, 4), 0.5))
    runtime.editing.lock(
        ids[0], DAY0, DAY0 + 2 * QUARTER, user="ann", reason="agreed with customer"
    )
    flags = runtime.store.read_intervals(ids, DAY0, DAY0 + 4 * QUARTER).flags[0]
    assert ((flags & Flag.LOCKED) != 0).tolist() == [True, True, False, False]
    runtime.editing.unlock(ids[0], DAY0, DAY0 + 4 * QUARTER, user="ann", reason="reopened")
    flags = runtime.store.read_intervals(ids, DAY0, DAY0 + 4 * QUARTER).flags[0]
    assert not (flags & Flag.LOCKED).any()


def test_recalculate_from_raw_drops_edits(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    runtime.store.write_intervals(ids, DAY0, np.full((1, 4), 0.5))
    runtime.editing.substitute(ids[0], DAY0, [9.0], user="ann", reason="typo")
    runtime.editing.recalculate_from_raw(ids, DAY0, DAY0 + 4 * QUARTER, user="ann", reason="undo")
    data = runtime.store.read_intervals(ids, DAY0, DAY0 + 4 * QUARTER)
    assert data.values[0].tolist() == [0.5] * 4 and not data.flags.any()


def test_release_needs_validated_values(runtime: Runtime, fleet: Fleet) -> None:
    ids = fleet.channels(1)
    runtime.store.write_intervals(ids, DAY0, np.full((1, 4), 0.5))
    with pytest.raises(
        InvalidValue, match="0 intervals without a value, 4 not validated, 0 suspect"
    ):
        runtime.editing.release(ids[0], DAY0, DAY0 + timedelta(hours=1), user="billing")


def test_a_released_period_changes_only_with_a_reason_and_is_released_again(
    runtime: Runtime, fleet: Fleet
) -> None:
    ids = fleet.channels(1)
    _validated(runtime, ids, np.full((1, 4), 0.5))
    first = runtime.editing.release(
        ids[0], DAY0, DAY0 + timedelta(hours=1), user="billing", note="March"
    )
    with pytest.raises(Conflict, match="released for billing"):
        runtime.editing.substitute(ids[0], DAY0, [0.6], user="ann", reason="late correction")
    with pytest.raises(Conflict, match="already released"):
        runtime.editing.release(ids[0], DAY0, DAY0 + timedelta(hours=1), user="billing")
    runtime.editing.substitute(
        ids[0], DAY0, [0.6], user="ann", reason="late correction", released_ok=True
    )
    second = runtime.editing.release(ids[0], DAY0, DAY0 + timedelta(hours=1), user="billing")
    history = runtime.editing.releases(ids[0])
    assert [h.id for h in history] == [first.id, second.id]
    assert history[0].revoked_by == "ann" and history[0].revoke_reason == "late correction"
    assert history[1].revoked_at is None
    assert runtime.editing.released_values(first.id).values[0].tolist() == [0.5] * 4
    assert runtime.editing.released_values(second.id).values[0].tolist() == [0.6, 0.5, 0.5, 0.5]
