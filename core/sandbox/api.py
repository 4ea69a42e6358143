"""The vetted API a script sees: plain data in (:class:`ScriptData`), an output object out
(:class:`Output`), and :class:`Series`, a read-only numeric series with whole-array arithmetic.

Nothing here hands a script a module, a class it could instantiate, the ORM or the application:
the names a script may use on each object are listed in its ``_public_`` (the attribute guard
refuses every other one), and every method checks what the script passes before it touches
an array. A script works on whole series (``data.values > 2 * data.values.shift(1)``), so
it runs at numpy speed, not a Python loop per value.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from meterhub.extensions.veekit import like_day_reference

__all__ = ["Output", "ScriptData", "ScriptError", "Series", "vetted_functions"]

#: Most reasons an output keeps, and the longest reason.
MAX_REASONS = 50
MAX_REASON_CHARS = 200


class ScriptError(Exception):
    """A script used the API wrongly (a garbage result); the message says how."""


def _floats(value: Any, length: int, what: str) -> npt.NDArray[np.float64]:
    """``value`` (a Series, a number, a list of numbers) as ``length`` floats."""
    if isinstance(value, Series):
        array = value._array
    elif isinstance(value, bool):
        raise ScriptError(f"{what} needs numbers, got a bool")
    elif isinstance(value, int | float):
        return np.full(length, float(value))
    elif isinstance(value, list | tuple):
        if len(value) != length:
            raise ScriptError(f"{what} needs {length} values, got {len(value)}")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
            raise ScriptError(f"{what} needs numbers")
        array = np.asarray(value, dtype=np.float64)
    else:
        raise ScriptError(f"{what} needs a series, a list or a number, got {type(value).__name__}")
    if array.shape != (length,):
        raise ScriptError(f"{what} needs {length} values, got {array.size}")
    return np.asarray(array, dtype=np.float64)


def _mask(value: Any, length: int, what: str) -> npt.NDArray[np.bool_]:
    """``value`` (a boolean Series, an index, a list of indices) as a mask of ``length``."""
    if isinstance(value, Series):
        if value._array.shape != (length,):
            raise ScriptError(f"{what} needs a series of {length} values, got {len(value)}")
        return np.asarray(value._array != 0) & ~np.isnan(value._array)
    mask = np.zeros(length, dtype=bool)
    items = [value] if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(items, list | tuple | range):
        raise ScriptError(f"{what} needs a series, an index or a list of indices")
    for item in items:
        if isinstance(item, bool) or not isinstance(item, int) or not -length <= item < length:
            raise ScriptError(f"{what}: {item!r} is not an index of the {length} values")
        mask[item] = True
    return mask


def _reason(reason: Any) -> str:
    if not isinstance(reason, str):
        raise ScriptError(f"a reason must be text, got {type(reason).__name__}")
    return reason[:MAX_REASON_CHARS]


class Series:
    """A read-only series of numbers (``nan`` = no value) with whole-array arithmetic.

    ``+ - * / // % **`` with numbers or series of the same length, comparisons (giving series
    of 1.0 and 0.0), ``&``, ``|`` and ``~`` on such masks; ``s[i]`` a number, ``s[a:b]`` a
    series, ``len(s)``, iteration. Methods: ``sum``, ``mean``, ``min``, ``max``, ``count``,
    ``abs``, ``shift``, ``fill``, ``missing``, ``present``, ``clip``, ``where``,
    ``rolling_mean``, ``tolist``.
    """

    _public_ = frozenset(
        {
            "sum",
            "mean",
            "min",
            "max",
            "count",
            "abs",
            "shift",
            "fill",
            "missing",
            "present",
            "clip",
            "where",
            "rolling_mean",
            "tolist",
        }
    )
    __slots__ = ("_array",)

    def __init__(self, array: Any) -> None:
        data = np.asarray(array, dtype=np.float64)
        if data.ndim != 1:
            raise ScriptError("a series is one-dimensional")
        data = data.view()
        data.flags.writeable = False
        self._array = data

    def __repr__(self) -> str:
        return f"Series({len(self._array)} values)"

    def __len__(self) -> int:
        return int(self._array.size)

    def __iter__(self) -> Iterator[float]:
        return iter(self._array.tolist())

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, slice):
            return Series(self._array[key])
        if isinstance(key, bool) or not isinstance(key, int):
            raise ScriptError(f"a series is indexed by whole numbers, not {type(key).__name__}")
        return float(self._array[key])

    def _other(self, other: Any) -> Any:
        if isinstance(other, Series):
            if other._array.shape != self._array.shape:
                raise ScriptError(f"series of {len(self)} and {len(other)} values do not match")
            return other._array
        if isinstance(other, int | float) and not isinstance(other, bool):
            return float(other)
        raise ScriptError(f"cannot combine a series with {type(other).__name__}")

    def _op(self, other: Any, op: Any) -> Series:
        with np.errstate(all="ignore"):
            return Series(op(self._array, self._other(other)))

    def __add__(self, o: Any) -> Series:
        return self._op(o, np.add)

    def __radd__(self, o: Any) -> Series:
        return self._op(o, np.add)

    def __sub__(self, o: Any) -> Series:
        return self._op(o, np.subtract)

    def __rsub__(self, o: Any) -> Series:
        return self._op(o, lambda a, b: np.subtract(b, a))

    def __mul__(self, o: Any) -> Series:
        return self._op(o, np.multiply)

    def __rmul__(self, o: Any) -> Series:
        return self._op(o, np.multiply)

    def __truediv__(self, o: Any) -> Series:
        return self._op(o, np.divide)

    def __rtruediv__(self, o: Any) -> Series:
        return self._op(o, lambda a, b: np.divide(b, a))

    def __floordiv__(self, o: Any) -> Series:
        return self._op(o, np.floor_divide)

    def __mod__(self, o: Any) -> Series:
        return self._op(o, np.mod)

    def __pow__(self, o: Any) -> Series:
        return self._op(o, np.power)

    def __neg__(self) -> Series:
        return Series(-self._array)

    def __abs__(self) -> Series:
        return Series(np.abs(self._array))

    def _compare(self, o: Any, op: Any) -> Series:
        with np.errstate(all="ignore"):
            other = self._other(o)
            result = op(self._array, other).astype(np.float64)
            result[np.isnan(self._array) | np.isnan(other)] = np.nan
            return Series(result)

    def __lt__(self, o: Any) -> Series:
        return self._compare(o, np.less)

    def __le__(self, o: Any) -> Series:
        return self._compare(o, np.less_equal)

    def __gt__(self, o: Any) -> Series:
        return self._compare(o, np.greater)

    def __ge__(self, o: Any) -> Series:
        return self._compare(o, np.greater_equal)

    def __eq__(self, o: Any) -> Series:  # type: ignore[override]
        return self._compare(o, np.equal)

    def __ne__(self, o: Any) -> Series:  # type: ignore[override]
        return self._compare(o, np.not_equal)

    __hash__ = None  # type: ignore[assignment]

    def _truth(self) -> npt.NDArray[np.bool_]:
        return np.asarray(self._array != 0) & ~np.isnan(self._array)

    def __and__(self, o: Any) -> Series:
        other = o._truth() if isinstance(o, Series) else bool(o)
        return Series(self._truth() & other)

    def __or__(self, o: Any) -> Series:
        other = o._truth() if isinstance(o, Series) else bool(o)
        return Series(self._truth() | other)

    def __invert__(self) -> Series:
        return Series(~self._truth())

    def __bool__(self) -> bool:
        raise ScriptError("a series has no single truth value; use .count() or .sum()")

    def sum(self) -> float:
        """The sum of the values present."""
        return float(np.nansum(self._array))

    def mean(self) -> float:
        """The mean of the values present (nan when none)."""
        present = self._array[~np.isnan(self._array)]
        return float(present.mean()) if present.size else math.nan

    def min(self) -> float:
        """The smallest value present (nan when none)."""
        return float(np.nanmin(self._array)) if self.count() else math.nan

    def max(self) -> float:
        """The largest value present (nan when none)."""
        return float(np.nanmax(self._array)) if self.count() else math.nan

    def count(self) -> int:
        """How many values are present (for a mask: how many are true)."""
        return int(np.count_nonzero(~np.isnan(self._array) & (self._array != 0)))

    def abs(self) -> Series:
        """The absolute values."""
        return Series(np.abs(self._array))

    def shift(self, steps: Any) -> Series:
        """The series moved by ``steps`` (positive: later; the ends become nan)."""
        if isinstance(steps, bool) or not isinstance(steps, int):
            raise ScriptError("shift needs a whole number of steps")
        out = np.full(self._array.size, np.nan)
        if steps == 0:
            out[:] = self._array
        elif 0 < steps < out.size:
            out[steps:] = self._array[:-steps]
        elif -out.size < steps < 0:
            out[:steps] = self._array[-steps:]
        return Series(out)

    def fill(self, value: Any) -> Series:
        """The series with nan replaced by ``value``."""
        return Series(
            np.where(np.isnan(self._array), _floats(value, len(self), "fill"), self._array)
        )

    def missing(self) -> Series:
        """A mask of the positions without a value."""
        return Series(np.isnan(self._array))

    def present(self) -> Series:
        """A mask of the positions with a value."""
        return Series(~np.isnan(self._array))

    def clip(self, low: Any, high: Any) -> Series:
        """The values limited to ``[low, high]``."""
        return Series(np.clip(self._array, float(low), float(high)))

    def where(self, mask: Any, other: Any) -> Series:
        """This series where ``mask`` is true, ``other`` elsewhere."""
        chosen = _mask(mask, len(self), "where")
        return Series(np.where(chosen, self._array, _floats(other, len(self), "where")))

    def rolling_mean(self, window: Any) -> Series:
        """The mean of each value and the ``window - 1`` before it (nan at the start)."""
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= 10_000:
            raise ScriptError("rolling_mean needs a window of 1 to 10000 values")
        values = np.nan_to_num(self._array)
        sums = np.concatenate([[0.0], np.cumsum(values)])
        out = np.full(self._array.size, np.nan)
        if window <= out.size:
            out[window - 1 :] = (sums[window:] - sums[:-window]) / window
        return Series(out)

    def tolist(self) -> list[float]:
        """The values as a list (at most 100,000)."""
        if self._array.size > 100_000:
            raise ScriptError("tolist is limited to 100000 values; work on the series")
        return list(self._array.tolist())


class ScriptData:
    """What a script reads: ``values``, ``flags``, ``times`` (UTC epoch seconds of each slot's
    start), ``missing`` (the positions to estimate), ``inputs`` (name → series, for
    calculations), ``history`` (earlier values), ``day``/``day_type``/``minute`` (the local
    calendar of history + values), ``channel`` (a dict of facts), ``parameters`` (a dict),
    ``interval`` (minutes) and ``like_day_mean(days)``."""

    _public_ = frozenset(
        {
            "values",
            "flags",
            "times",
            "missing",
            "inputs",
            "history",
            "day",
            "day_type",
            "minute",
            "channel",
            "parameters",
            "interval",
            "like_day_mean",
        }
    )

    def __init__(self, job: Mapping[str, Any]) -> None:
        values = np.asarray(job.get("values", ()), dtype=np.float64)
        self.values = Series(values)
        self.flags = Series(np.asarray(job.get("flags", np.zeros(values.size)), dtype=np.float64))
        self.times = Series(np.asarray(job.get("times", np.zeros(values.size)), dtype=np.float64))
        self.missing = Series(
            np.asarray(job.get("missing", np.zeros(values.size)), dtype=np.float64)
        )
        self.inputs = {str(k): Series(v) for k, v in dict(job.get("inputs", {})).items()}
        self.history = Series(np.asarray(job.get("history", ()), dtype=np.float64))
        self.day = Series(np.asarray(job.get("day", ()), dtype=np.float64))
        self.day_type = Series(np.asarray(job.get("day_type", ()), dtype=np.float64))
        self.minute = Series(np.asarray(job.get("minute", ()), dtype=np.float64))
        self.channel = _plain(dict(job.get("channel", {})))
        self.parameters = _plain(dict(job.get("parameters", {})))
        self.interval = int(job.get("interval", 15))
        first = next(iter(self.inputs.values()), None)
        self.length = len(self.values) or (len(first) if first is not None else 0)

    def __repr__(self) -> str:
        return f"<data: {len(self.values)} values>"

    def like_day_mean(self, days: Any = 3) -> Series:
        """For each value, the mean of the same local time on the ``days`` most recent earlier
        like days (same day type), from history and values; nan where there is none."""
        if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 52:
            raise ScriptError("like_day_mean needs 1 to 52 days")
        series = np.concatenate([self.history._array, self.values._array])
        if self.day._array.size != series.size:
            raise ScriptError("like_day_mean needs the calendar of history and values")
        reference = like_day_reference(
            series,
            self.day._array.astype(np.int32),
            self.day_type._array.astype(np.int16),
            self.minute._array.astype(np.int16),
            self.interval,
            days,
        )
        return Series(reference[-len(self.values) :])


def _plain(mapping: dict[str, Any]) -> dict[str, Any]:
    """Only plain values (text, numbers, booleans, None, lists of them) reach a script."""
    out: dict[str, Any] = {}
    for key, value in mapping.items():
        if isinstance(value, str | int | float | bool) or value is None:
            out[str(key)] = value
        elif isinstance(value, list | tuple) and all(
            isinstance(v, str | int | float | bool) for v in value
        ):
            out[str(key)] = list(value)
    return out


class Output:
    """What a script produces: ``flag(mask, reason)`` marks suspect values (checks),
    ``estimate(mask, values)`` fills positions (estimation), ``set_values(values)`` gives the
    result series (calculations), ``note(text)`` adds a line to the run's summary."""

    _public_ = frozenset({"flag", "estimate", "set_values", "note"})

    def __init__(self, length: int) -> None:
        self._length = length
        self._suspect = np.zeros(length, dtype=bool)
        self._estimated = np.zeros(length, dtype=bool)
        self._values: npt.NDArray[np.float64] | None = None
        self._reasons: list[str] = []
        self._notes: list[str] = []

    def __repr__(self) -> str:
        return "<result>"

    def flag(self, where: Any, reason: Any = "flagged by script") -> int:
        """Mark the values at ``where`` (a mask series, an index or a list) suspect; returns
        how many are marked now."""
        text = _reason(reason)
        self._suspect |= _mask(where, self._length, "flag")
        if text not in self._reasons and len(self._reasons) < MAX_REASONS:
            self._reasons.append(text)
        return int(self._suspect.sum())

    def estimate(self, where: Any, values: Any) -> int:
        """Give the positions ``where`` the ``values`` (a series, a list or a number)."""
        chosen = _mask(where, self._length, "estimate")
        new = _floats(values, self._length, "estimate")
        if not np.isfinite(new[chosen]).all():
            raise ScriptError("estimate needs finite numbers at the positions it fills")
        if self._values is None:
            self._values = np.full(self._length, np.nan)
        self._values[chosen] = new[chosen]
        self._estimated |= chosen
        return int(self._estimated.sum())

    def set_values(self, values: Any) -> None:
        """The result of a calculation (nan where it cannot be computed; no infinities)."""
        new = _floats(values, self._length, "set_values")
        if np.isinf(new).any():
            raise ScriptError("set_values does not take infinite values")
        self._values = new.copy()

    def note(self, text: Any) -> None:
        """A line for the run's summary (at most 50)."""
        if len(self._notes) < MAX_REASONS:
            self._notes.append(_reason(text))

    def as_result(self) -> dict[str, Any]:
        """The plain result sent back to MeterHub."""
        return {
            "suspect": self._suspect,
            "estimated": self._estimated,
            "values": self._values,
            "reasons": list(self._reasons),
            "notes": list(self._notes),
        }


def _series(values: Any) -> Series:
    if isinstance(values, Series):
        return values
    return Series(
        _floats(values, len(values), "series") if isinstance(values, list | tuple) else values
    )


def vetted_functions() -> dict[str, Any]:
    """The functions and constants a script may call besides the built-ins."""

    def series(values: Any) -> Series:
        """A series from a list of numbers."""
        if not isinstance(values, list | tuple):
            raise ScriptError("series needs a list of numbers")
        return Series(_floats(values, len(values), "series"))

    def where(mask: Any, then: Any, otherwise: Any) -> Series:
        """``then`` where ``mask`` is true, ``otherwise`` elsewhere."""
        if not isinstance(mask, Series):
            raise ScriptError("where needs a mask series first")
        chosen = _mask(mask, len(mask), "where")
        return Series(
            np.where(
                chosen, _floats(then, len(mask), "where"), _floats(otherwise, len(mask), "where")
            )
        )

    def isnan(value: Any) -> bool:
        """Whether a number is nan."""
        return isinstance(value, float) and math.isnan(value)

    return {
        "series": series,
        "where": where,
        "isnan": isnan,
        "nan": math.nan,
        "sqrt": math.sqrt,
        "floor": math.floor,
        "ceil": math.ceil,
    }
