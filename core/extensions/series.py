"""The interval block: the plain value type validators, estimators and calculations work on.

An :class:`IntervalBlock` is a run of equally spaced interval values of one channel, held in
numpy arrays (no Python object per value). A value at position ``i`` covers the interval
``[start + i * interval, start + (i + 1) * interval)``; a missing value is ``NaN``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

__all__ = ["IntervalBlock"]


@dataclass(frozen=True, eq=False)
class IntervalBlock:
    """Equally spaced interval values of one channel.

    ``values`` is a float64 array (``NaN`` = missing) and ``flags`` a uint32 array of the same
    length holding the status flags of each value as the time-series store keeps them.
    ``start`` is an aware UTC datetime, the start of the first interval. ``channel_id`` is
    ``None`` for a block that is not (yet) stored, such as a calculation result.
    """

    start: datetime
    interval: timedelta
    values: npt.NDArray[np.float64]
    flags: npt.NDArray[np.uint32]
    channel_id: int | None = None
    unit: str | None = None

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.start.utcoffset() is None:
            raise ValueError("IntervalBlock.start must be an aware datetime (UTC)")
        if self.interval <= timedelta(0):
            raise ValueError(f"IntervalBlock.interval must be positive, got {self.interval}")
        if len(self.values) != len(self.flags):
            raise ValueError(
                f"IntervalBlock has {len(self.values)} values but {len(self.flags)} flags"
            )

    def __len__(self) -> int:
        return len(self.values)

    @property
    def end(self) -> datetime:
        """The end of the last interval."""
        return self.start + self.interval * len(self.values)
