"""Communication statistics: counters of the sessions with meters, per hour and level.

One row counts the sessions (connections to a meter, :class:`meterhub.model.tasks.SessionLog`)
of one UTC **hour** (``bucket``, the hour's start), one **level** (``scope``) and one object of
that level (``scope_id``) that ended the same way (``outcome``):

* ``scope``: ``summary`` (everything; ``scope_id`` 0), ``virtual_meter`` (the virtual meter the
  meter served when the session started), ``device`` (the communication device of the path),
  ``path`` (the communication path). A session over no device (a simulated meter, a meter that
  called in) counts in the summary and for its virtual meter only.
* ``outcome``: ``succeeded``, or the error class of a failed session (``link``, ``timeout``,
  ``authentication``, ...). The failures by error class are the rows of the other outcomes.

The counters: ``sessions`` (attempts), ``seconds`` (their total duration), ``bytes_sent`` and
``bytes_received`` (from the frame trace), ``backup`` (sessions over a backup path, priority 2
or more) and ``failovers`` (sessions opened because the path before them lost the link, within
the same task attempt). Day figures are sums of hours (:mod:`meterhub.acquisition.statistics`).

The writer adds to these rows in the same transaction as the sessions they count
(:mod:`meterhub.acquisition.writer`), with an upsert per row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from meterhub.model.base import Base
from meterhub.model.types import Float64, UTCDateTime

#: The levels statistics are kept at.
STATISTIC_SCOPES: tuple[str, ...] = ("summary", "virtual_meter", "device", "path")

#: ``outcome`` of the sessions that succeeded (the others hold an error class).
SUCCEEDED = "succeeded"


class CommunicationStatistic(Base):
    """Session counters of one hour, level, object and outcome (see the module docstring)."""

    __tablename__ = "acq_statistic"
    __table_args__ = (
        CheckConstraint(
            "scope IN ({})".format(", ".join(repr(scope) for scope in STATISTIC_SCOPES)),
            name="scope",
        ),
        # The primary key serves a level's hours; this one an object's history.
        Index(None, "scope", "scope_id", "bucket"),
    )

    bucket: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    scope: Mapped[str] = mapped_column(String(16), primary_key=True)
    scope_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    outcome: Mapped[str] = mapped_column(String(32), primary_key=True)
    sessions: Mapped[int] = mapped_column(Integer, default=0)
    seconds: Mapped[float] = mapped_column(Float64, default=0.0)
    bytes_sent: Mapped[int] = mapped_column(BigInteger, default=0)
    bytes_received: Mapped[int] = mapped_column(BigInteger, default=0)
    backup: Mapped[int] = mapped_column(Integer, default=0)
    failovers: Mapped[int] = mapped_column(Integer, default=0)

    def __repr__(self) -> str:
        return (
            f"<CommunicationStatistic {self.bucket:%Y-%m-%d %H}h {self.scope} {self.scope_id} "
            f"{self.outcome}: {self.sessions}>"
        )
