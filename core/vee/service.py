"""VEE's reactions to the store's events: the core listener that chains validation and
calculations to acquisition and edits.

:class:`VeeService` is registered by :func:`meterhub.runtime.build_runtime` in the plugin
host's pluggy manager (as ``core:vee``), so it hears the same hooks as plugins:

- ``readings_stored(kind="raw")``: the ``at_ingest`` profiles of those channels run over the
  stored period (their limit checks already flagged values inside the ingest transaction; the
  rest of the profile — gaps, spikes, estimation — runs now, after the commit; a profile of
  ingest checks only was complete in the ingest transaction and does not run again), then the
  calculations that depend on the channels;
- ``readings_stored`` of another kind (``validated``, ``estimated``, ``calculated``) and
  ``values_edited``: the calculations that depend on the channels run again.

The work runs in the writer's thread, after its commit; a failure is logged and never undoes
the write. Scheduled profiles are started by the scheduler through
:meth:`meterhub.vee.VeeEngine.run_scheduled` (``meterhub vee run --scheduled``).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from meterhub import hookimpl
from meterhub.vee.assignments import resolve
from meterhub.vee.ingest import profiles_complete_at_ingest

if TYPE_CHECKING:
    from meterhub.runtime import Runtime

__all__ = ["VeeService"]

log = logging.getLogger(__name__)

#: How deep chained reactions may go (a calculation of a calculation of ...).
MAX_DEPTH = 8


class VeeService:
    """The core listener (see the module docstring)."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime
        self._depth = 0

    def _profiles_for(self, channel_ids: Sequence[int]) -> dict[int, list[int]]:
        """The ``at_ingest`` profiles of the channels that have work left after the commit."""
        with self.runtime.sessions() as session:
            conn = session.connection()
            found = resolve(conn, channel_ids=channel_ids, at_ingest=True)
            done = profiles_complete_at_ingest(
                conn, {profile for _, profile in found}, self.runtime.plugins
            )
        by_profile: dict[int, list[int]] = {}
        for channel, profile in found:
            if profile not in done:
                by_profile.setdefault(profile, []).append(channel)
        return by_profile

    @hookimpl
    def readings_stored(
        self, channel_ids: Sequence[int], start: datetime, end: datetime, kind: str
    ) -> None:
        """Run the ingest profiles (raw values) and the dependent calculations."""
        if self._depth >= MAX_DEPTH:
            log.error(
                "VEE reactions nested %d deep; stopped at channels %s", self._depth, channel_ids
            )
            return
        self._depth += 1
        try:
            if kind == "raw":
                for profile, channels in sorted(self._profiles_for(channel_ids).items()):
                    try:
                        self.runtime.vee.run(
                            profile,
                            start,
                            end,
                            channel_ids=sorted(channels),
                            trigger="ingest",
                            user="vee",
                        )
                    except Exception:
                        log.exception("validation profile %s after ingest failed", profile)
            self.runtime.calculations.after_change(channel_ids, start, end)
        finally:
            self._depth -= 1

    @hookimpl
    def values_edited(
        self, channel_id: int, start: datetime, end: datetime, user: str, reason: str
    ) -> None:
        """Recalculate what depends on an edited channel."""
        if self._depth >= MAX_DEPTH:
            return
        self._depth += 1
        try:
            self.runtime.calculations.after_change([channel_id], start, end)
        finally:
            self._depth -= 1
