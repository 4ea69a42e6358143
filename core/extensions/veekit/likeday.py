"""The like-day reference: for every slot, the mean of the same local time on the most recent
earlier dates of the same day type.

The work is laid out once per calendar (:class:`_Layout`, kept for the last few calendars
seen): the slots map onto a ``[dates, slots of the day]`` matrix by local minute in a few
contiguous runs (one per DST change or partial day), and the dates are sorted by day type with
``days`` empty dates before each type's first date. In that sorted matrix the ``k``-th like day
before a date is simply ``k`` dates earlier, so the sums are a few shifted whole-array
additions on views; two ``take`` gathers of whole days move the values in and the reference
out. Nothing is indexed per value.

The arithmetic is the plain one, in the plain order: ``((0 + v₁) + v₂) + … + v_days`` over the
present values of the like days, most recent first, divided by how many there were (``NaN``
where none), so the result is the same to the last bit as a loop over the dates would give.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from meterhub.extensions.veekit.scratch import scratch

__all__ = ["like_day_outside", "like_day_reference"]

Floats = npt.NDArray[np.float64]
Ints = npt.NDArray[np.int64]
Bools = npt.NDArray[np.bool_]

#: Channels per pass (the working set of one pass stays in the L2 cache).
_ROWS = 16

#: How many calendar layouts are kept (a run uses one or two).
_KEPT = 4


@dataclass(frozen=True, eq=False)
class _Layout:
    """Where the slots of one calendar go in the date matrix and the sorted matrix."""

    width: int  # slots of a day (1440 / interval)
    dates: int  # dates from the first to the last slot's
    #: ``(first slot, stop slot, first cell)`` of each contiguous run of slots in the
    #: ``[dates × width]`` date matrix, in slot order (a repeated hour's later run wins).
    runs: tuple[tuple[int, int, int], ...]
    #: Cells of the date matrix no slot fills (partial first/last day, the skipped hour).
    empty_cells: Ints
    #: Whether the slots fill the date matrix exactly, in order (whole days, no DST change).
    regular: bool
    #: For each date of the sorted matrix, the date it holds (any date for a padding one).
    order: Ints
    #: ``(first, stop)`` of the padding dates of the sorted matrix.
    pads: tuple[tuple[int, int], ...]
    #: For each date, its position in the sorted matrix (a padding position where the date
    #: has no slots: its reference is ``NaN``).
    position: Ints
    #: The date of each slot.
    row_of: Ints


#: The last few layouts with the calendars they were made for (a copy of its arrays: a
#: calendar equal in content finds its layout, whatever object holds it).
_layouts: list[
    tuple[
        tuple[npt.NDArray[np.int32], npt.NDArray[np.int16], npt.NDArray[np.int16]],
        int,
        int,
        _Layout,
    ]
] = []


def _layout(
    day: npt.NDArray[np.int32],
    day_type: npt.NDArray[np.int16],
    minute: npt.NDArray[np.int16],
    interval_minutes: int,
    days: int,
) -> _Layout:
    for (known_day, known_type, known_minute), interval, back, layout in list(_layouts):
        if (
            interval == interval_minutes
            and back == days
            and np.array_equal(known_day, day)
            and np.array_equal(known_type, day_type)
            and np.array_equal(known_minute, minute)
        ):
            return layout
    layout = _make_layout(day, day_type, minute, interval_minutes, days)
    _layouts.insert(
        0, ((day.copy(), day_type.copy(), minute.copy()), interval_minutes, days, layout)
    )
    del _layouts[_KEPT:]
    return layout


def _make_layout(
    day: npt.NDArray[np.int32],
    day_type: npt.NDArray[np.int16],
    minute: npt.NDArray[np.int16],
    interval_minutes: int,
    days: int,
) -> _Layout:
    width = max(1, 1440 // interval_minutes)
    row_of = (day - day[0]).astype(np.int64)
    columns = (minute // interval_minutes).astype(np.int64)
    dates = int(row_of[-1]) + 1
    if int(columns.max()) >= width or int(columns.min()) < 0:
        raise IndexError(f"a slot's minute lies outside a day of {width} intervals")
    cell = row_of * width + columns
    breaks = np.flatnonzero(np.diff(cell) != 1) + 1
    firsts = np.concatenate([[0], breaks]).tolist()
    stops = np.concatenate([breaks, [cell.size]]).tolist()
    runs = tuple((a, b, int(cell[a])) for a, b in zip(firsts, stops, strict=True))
    covered = np.zeros(dates * width, dtype=bool)
    covered[cell] = True
    regular = len(runs) == 1 and runs[0][2] == 0 and cell.size == dates * width
    types = np.full(dates, -1, dtype=np.int64)
    types[row_of] = day_type
    order_parts: list[Ints] = []
    pads: list[tuple[int, int]] = []
    position = np.zeros(dates, dtype=np.int64)  # dates without slots: the first padding date
    at = 0
    for code in np.unique(types[types >= 0]).tolist():
        same = np.flatnonzero(types == code)
        pads.append((at, at + days))
        order_parts += [np.zeros(days, dtype=np.int64), same]
        position[same] = at + days + np.arange(same.size)
        at += days + same.size
    return _Layout(
        width=width,
        dates=dates,
        runs=runs,
        empty_cells=np.flatnonzero(~covered),
        regular=regular,
        order=np.concatenate(order_parts) if order_parts else np.zeros(0, dtype=np.int64),
        pads=tuple(pads),
        position=position,
        row_of=row_of,
    )


def _date_matrix(part: Floats, layout: _Layout) -> Floats:
    """The ``[rows, dates, width]`` matrix of ``part`` (a view where the slots are regular)."""
    rows = part.shape[0]
    if layout.regular:
        return part.reshape(rows, layout.dates, layout.width)
    matrix = scratch("likeday.dates", (rows, layout.dates * layout.width), np.float64)
    for first, stop, cell in layout.runs:
        matrix[:, cell : cell + stop - first] = part[:, first:stop]
    if layout.empty_cells.size:
        matrix[:, layout.empty_cells] = np.nan
    return matrix.reshape(rows, layout.dates, layout.width)


def _sorted_reference(matrix: Floats, layout: _Layout, days: int) -> Floats:
    """The reference of every date of the sorted matrix, ``[rows, sorted dates, width]``."""
    shape = (matrix.shape[0], layout.order.size, layout.width)
    if days < 1:  # no like day to average: 0 / 0, as the plain loop gives
        with np.errstate(invalid="ignore"):
            return np.divide(np.zeros(shape), 0.0)
    values = scratch("likeday.sorted", shape, np.float64)
    np.take(matrix, layout.order, axis=1, out=values, mode="clip")
    present = np.isnan(values, out=scratch("likeday.present", shape, np.bool_))
    np.copyto(values, 0.0, where=present)
    np.logical_not(present, out=present)
    for first, stop in layout.pads:
        values[:, first:stop] = 0.0
        present[:, first:stop] = False
    counts = present.view(np.uint8)
    total = scratch("likeday.total", shape, np.float64)
    number = scratch("likeday.number", shape, np.uint8)
    total[:, :1] = 0.0  # the first date is a padding one: nothing before it
    number[:, :1] = 0
    # the like days before each date, most recent first, as a plain loop adds them to 0.0
    np.add(values[:, :-1], 0.0, out=total[:, 1:])
    np.copyto(number[:, 1:], counts[:, :-1])
    for back in range(2, days + 1):
        total[:, back:] += values[:, :-back]
        number[:, back:] += counts[:, :-back]
    with np.errstate(invalid="ignore", divide="ignore"):
        np.divide(total, number, out=total)
    return total


def _same_length(slots: int, day: npt.NDArray[np.int32]) -> None:
    if len(day) != slots:
        raise ValueError(f"the calendar has {len(day)} slots, the values {slots}")


def _fill_reference(rows2d: Floats, layout: _Layout, days: int, out: Floats) -> None:
    """The references of the last ``out.shape[1]`` slots of ``rows2d`` into ``out``."""
    tail = out.shape[1]
    begin = rows2d.shape[1] - tail
    first_date = int(layout.row_of[begin])
    wanted = layout.position[first_date:]
    width = layout.width
    direct = layout.regular and begin == first_date * width
    for lo in range(0, rows2d.shape[0], _ROWS):  # a few rows at a time stay in the cache
        part = rows2d[lo : lo + _ROWS]
        channels = part.shape[0]
        reference = _sorted_reference(_date_matrix(part, layout), layout, days)
        if direct:  # whole days: the gather writes the result in place
            np.take(
                reference,
                wanted,
                axis=1,
                out=out[lo : lo + channels].reshape(channels, -1, width),
                mode="clip",
            )
            continue
        by_date = np.take(
            reference,
            wanted,
            axis=1,
            out=scratch("likeday.by_date", (channels, wanted.size, width), np.float64),
            mode="clip",
        ).reshape(channels, -1)
        offset = first_date * width
        target = out[lo : lo + channels]
        for first, stop, cell in layout.runs:
            if stop <= begin:
                continue
            first_in = max(first, begin)
            start_cell = cell + first_in - first - offset
            target[:, first_in - begin : stop - begin] = by_date[
                :, start_cell : start_cell + stop - first_in
            ]


def like_day_reference(
    values: Floats,
    day: npt.NDArray[np.int32],
    day_type: npt.NDArray[np.int16],
    minute: npt.NDArray[np.int16],
    interval_minutes: int,
    days: int,
    last: int | None = None,
) -> Floats:
    """For every slot, the mean of the same local time on the ``days`` most recent earlier
    dates of the same day type (``NaN`` where no such value exists).

    ``values`` (one channel, or ``[rows, slots]``) runs over history and block alike (``NaN``
    for values that must not serve as reference: missing, suspect or estimated ones); ``day``,
    ``day_type`` and ``minute`` come from a
    :class:`~meterhub.extensions.veecontext.SlotCalendar`. A date's values are laid into a
    ``[dates, slots of the day]`` matrix by local minute, so a 92- or 100-slot DST day
    compares its wall-clock quarter-hours with those of ordinary days (of a repeated hour, the
    later value serves as reference). With ``last``, only the last ``last`` slots' references
    are computed and returned (the block after a history).
    """
    flat = values.ndim == 1
    rows2d = np.asarray(values[None, :] if flat else values, dtype=np.float64)
    slots = rows2d.shape[-1]
    tail = slots if last is None else min(max(int(last), 0), slots)
    out = np.empty((rows2d.shape[0], tail))
    if tail:
        _same_length(slots, day)
        _fill_reference(rows2d, _layout(day, day_type, minute, interval_minutes, days), days, out)
    result: Floats = out[0] if flat else out
    return result


def like_day_outside(
    values: Floats,
    usable: Floats,
    day: npt.NDArray[np.int32],
    day_type: npt.NDArray[np.int16],
    minute: npt.NDArray[np.int16],
    interval_minutes: int,
    days: int,
    high: float,
    low: float = 0.0,
    min_reference: float = 0.0,
) -> Bools:
    """The ``values`` above ``high`` × or (with ``low`` > 0) below ``low`` × their like-day
    reference, where that reference is above ``min_reference``.

    ``usable`` is what :func:`like_day_reference` takes (history and block, ``NaN`` where a
    value must not serve); ``values`` (one channel or ``[rows, slots]``) are the block's, the
    last slots of ``usable``. The same as comparing with :func:`like_day_reference` ``(...,
    last=slots)``, without its intermediate arrays.
    """
    flat = values.ndim == 1
    checked = values[None, :] if flat else values
    rows2d = np.asarray(usable[None, :] if flat else usable, dtype=np.float64)
    shape = checked.shape
    if shape[-1] == 0:
        return np.zeros(values.shape, dtype=bool)
    _same_length(rows2d.shape[-1], day)
    if rows2d.shape[-1] < shape[-1] or rows2d.shape[0] != shape[0]:
        raise ValueError(f"usable values of shape {rows2d.shape} do not cover values {shape}")
    reference = scratch("likeday.reference", shape, np.float64)
    _fill_reference(rows2d, _layout(day, day_type, minute, interval_minutes, days), days, reference)
    judged = np.greater(reference, min_reference, out=scratch("likeday.judged", shape, np.bool_))
    bound = np.multiply(reference, high, out=scratch("likeday.bound", shape, np.float64))
    hits = np.greater(checked, bound)
    hits &= judged
    if low > 0:
        np.multiply(reference, low, out=bound)
        below = np.less(checked, bound, out=scratch("likeday.below", shape, np.bool_))
        below &= judged
        hits |= below
    result: Bools = hits[0] if flat else hits
    return result
