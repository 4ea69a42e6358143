"""On-the-fly validation: the checks of ``at_ingest`` profiles that can run inside the ingest
transaction (limits, negative values, the largest energy per interval), applied to whole arrays
of the blocks a write stores, setting ``SUSPECT`` in the same version.

:class:`IngestValidation` is the ``ingest_check`` the runtime gives its store
(:data:`meterhub.timeseries.ingest.IngestCheck`). Per channel it looks up, once, which
``at_ingest`` profiles apply and which of their checks can run in the transaction, with the
channel's parameter overrides; it caches that for ``ttl`` seconds (and until
:meth:`invalidate`), so the ingest path pays one dictionary look-up per channel and a few
numpy operations per group of channels with the same rules. Each failed value is recorded in
``vee_result`` in the same transaction (trigger ``ingest``, no run row).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from meterhub.model.vee import ProfileStep, ValidationProfile, validation_result
from meterhub.timeseries.flags import Flag
from meterhub.timeseries.timegrid import US_PER_DAY, interval_us
from meterhub.vee.assignments import resolve
from meterhub.vee.profiles import Catalog

__all__ = ["IngestRule", "IngestValidation"]

log = logging.getLogger(__name__)

_SUSPECT = np.uint32(Flag.SUSPECT)


@dataclass(frozen=True)
class IngestRule:
    """One check to run at ingest with its parsed parameters."""

    name: str
    check: Any
    parameters: Any


class IngestValidation:
    """The on-the-fly validation of a store (see the module docstring)."""

    def __init__(
        self, catalog: Catalog, *, ttl: float = 30.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.catalog = catalog
        self.ttl = ttl
        self.clock = clock
        self._rules: dict[int, tuple[str, tuple[IngestRule, ...]]] = {}
        self._loaded_at = clock()

    def invalidate(self) -> None:
        """Forget the cached rules (after profiles or assignments changed)."""
        self._rules.clear()
        self._loaded_at = self.clock()

    def _load(self, conn: Any, channel_ids: list[int]) -> None:
        if self.clock() - self._loaded_at > self.ttl:
            self.invalidate()
        missing = [c for c in channel_ids if c not in self._rules]
        if not missing:
            return
        assigned = resolve(conn, channel_ids=missing, at_ingest=True)
        profiles = sorted({profile for _, profile in assigned})
        steps: dict[int, list[tuple[str, dict[str, Any]]]] = {}
        if profiles:
            rows = conn.execute(
                select(ProfileStep.profile_id, ProfileStep.name, ProfileStep.parameters)
                .join(ValidationProfile, ValidationProfile.id == ProfileStep.profile_id)
                .where(ProfileStep.profile_id.in_(profiles), ProfileStep.kind == "check")
                .order_by(ProfileStep.profile_id, ProfileStep.position)
            ).all()
            for profile_id, name, parameters in rows:
                steps.setdefault(profile_id, []).append((name, dict(parameters or {})))
        validators = self.catalog.validators()
        per_channel: dict[int, list[IngestRule]] = {c: [] for c in missing}
        keys: dict[int, list[Any]] = {c: [] for c in missing}
        for (channel, profile_id), overrides in sorted(assigned.items()):
            for name, parameters in steps.get(profile_id, ()):
                cls = validators.get(name)
                if cls is None or not cls.at_ingest:
                    continue
                given = {**parameters, **overrides.get(name, {})}
                try:
                    parsed = cls.parse_parameters(given)
                except Exception as error:  # a stored profile the plugin no longer accepts
                    log.warning(
                        "ingest check %s of profile %s skipped: %s", name, profile_id, error
                    )
                    continue
                per_channel[channel].append(IngestRule(name, cls(), parsed))
                keys[channel].append([name, given])
        for channel in missing:
            key = json.dumps(keys[channel], sort_keys=True)
            self._rules[channel] = (key, tuple(per_channel[channel]))

    def suspect(
        self, conn: Any, channel_ids: list[int], interval_minutes: int, values: np.ndarray
    ) -> tuple[np.ndarray, list[str]]:
        """What the ingest checks find in ``values`` (one row per channel of ``channel_ids``),
        and the names of the checks: a profile run starts from them, so running a scheduled
        profile never clears what the ingest checks flagged."""
        self._load(conn, sorted(set(channel_ids)))
        found = np.zeros(values.shape, dtype=bool)
        names: list[str] = []
        for row, channel in enumerate(channel_ids):
            for rule in self._rules[channel][1]:
                hits = rule.check.check_rows(
                    values[row : row + 1], interval_minutes, rule.parameters
                )[0]
                if hits.any():
                    found[row] |= hits
                    if rule.name not in names:
                        names.append(rule.name)
        return found, names

    def __call__(
        self,
        conn: Any,
        channel_ids: np.ndarray,
        day_numbers: np.ndarray,
        interval_minutes: int,
        values: np.ndarray,
        taken: np.ndarray,
    ) -> np.ndarray | None:
        """Flags for the taken slots of ``values`` (see the module docstring)."""
        ids = channel_ids.tolist()
        self._load(conn, sorted(set(ids)))
        groups: dict[str, list[int]] = {}
        rules_of: dict[str, tuple[IngestRule, ...]] = {}
        for row, channel in enumerate(ids):
            key, rules = self._rules[channel]
            if rules:
                groups.setdefault(key, []).append(row)
                rules_of[key] = rules
        if not groups:
            return None
        flags = np.zeros(values.shape, dtype=np.uint32)
        records: list[dict[str, Any]] = []
        step = interval_us(interval_minutes) if interval_minutes != 1440 else US_PER_DAY
        for key, rows in groups.items():
            index = np.asarray(rows)
            subset = values[index]
            suspect_all = np.zeros(subset.shape, dtype=bool)
            for rule in rules_of[key]:
                found = rule.check.check_rows(subset, interval_minutes, rule.parameters)
                found &= taken[index]
                if found.any():
                    suspect_all |= found
                    blocks, slots = np.nonzero(found)
                    ticks = day_numbers[index][blocks] * US_PER_DAY + slots * step
                    channels = channel_ids[index][blocks]
                    records += [
                        {
                            "run_id": None,
                            "channel_id": c,
                            "ts": t,
                            "check_name": rule.name,
                            "outcome": "suspect",
                            "message": "at ingest",
                        }
                        for c, t in zip(channels.tolist(), ticks.tolist(), strict=True)
                    ]
            flags[index] = np.where(suspect_all, _SUSPECT, np.uint32(0))
        if records:
            conn.execute(insert(validation_result), records)
        return flags
