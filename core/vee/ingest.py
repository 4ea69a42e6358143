"""On-the-fly validation: the checks of ``at_ingest`` profiles that can run inside the ingest
transaction (limits, negative values, the largest energy per interval), applied to whole arrays
of the blocks a write stores, setting ``SUSPECT`` in the same version.

A profile made of such checks only is **complete at ingest**: the ingest transaction is its
whole run, so it also sets ``VALIDATED`` on the values it takes, and the listener does not run
the profile again after the commit (no second, "validated" version of every write).

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
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import insert, select

from meterhub.model.vee import ProfileStep, ValidationProfile, validation_result
from meterhub.timeseries.flags import Flag
from meterhub.timeseries.timegrid import US_PER_DAY, interval_us
from meterhub.vee.assignments import resolve
from meterhub.vee.profiles import Catalog

__all__ = ["IngestRule", "IngestValidation", "complete_at_ingest", "profiles_complete_at_ingest"]

log = logging.getLogger(__name__)

_SUSPECT = np.uint32(Flag.SUSPECT)
_VALIDATED = np.uint32(Flag.VALIDATED)
#: The rules key of a channel no ingest check applies to.
_NO_RULES = json.dumps([False, []])


def complete_at_ingest(steps: Iterable[tuple[str, str]], catalog: Catalog) -> bool:
    """Whether a profile's steps (``(kind, name)`` in order) all run inside the ingest
    transaction: checks whose validator has :attr:`~Validator.at_ingest`, no estimation, no
    script."""
    validators = catalog.validators()
    for kind, name in steps:
        check = validators.get(name) if kind == "check" else None
        if check is None or not check.at_ingest:
            return False
    return True


def profiles_complete_at_ingest(
    conn: Any, profile_ids: Iterable[int], catalog: Catalog
) -> set[int]:
    """Those of ``profile_ids`` that are :func:`complete_at_ingest`."""
    wanted = sorted(set(profile_ids))
    if not wanted:
        return set()
    steps: dict[int, list[tuple[str, str]]] = {profile: [] for profile in wanted}
    for profile_id, kind, name in conn.execute(
        select(ProfileStep.profile_id, ProfileStep.kind, ProfileStep.name)
        .where(ProfileStep.profile_id.in_(wanted))
        .order_by(ProfileStep.profile_id, ProfileStep.position)
    ).all():
        steps[profile_id].append((kind, name))
    return {profile for profile in wanted if complete_at_ingest(steps[profile], catalog)}


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
        # per channel: a key of its rules, the rules, whether a profile is complete at ingest
        self._rules: dict[int, tuple[str, tuple[IngestRule, ...], bool]] = {}
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
        complete = profiles_complete_at_ingest(conn, profiles, self.catalog)
        validators = self.catalog.validators()
        per_channel: dict[int, list[IngestRule]] = {c: [] for c in missing}
        validated = {channel for channel, profile in assigned if profile in complete}
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
            key = (
                json.dumps([channel in validated, keys[channel]], sort_keys=True)
                if keys[channel] or channel in validated
                else _NO_RULES
            )
            self._rules[channel] = (key, tuple(per_channel[channel]), channel in validated)

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
        complete_of: dict[str, bool] = {}
        for row, channel in enumerate(ids):
            key, rules, complete = self._rules[channel]
            if rules or complete:
                groups.setdefault(key, []).append(row)
                rules_of[key] = rules
                complete_of[key] = complete
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
            group_flags = np.where(suspect_all, _SUSPECT, np.uint32(0))
            if complete_of[key]:  # the ingest is the profile's whole run: values validated
                group_flags |= np.where(taken[index] & ~np.isnan(subset), _VALIDATED, np.uint32(0))
            flags[index] = group_flags
        if records:
            conn.execute(insert(validation_result), records)
        return flags
