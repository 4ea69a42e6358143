"""The meter status bits VEE checks: the low byte of the status word (DLMS/IDIS AMR profile
status), as the store keeps it in bits 0-7 of a normalized value's flags.

=====  =================  ======================================================
bit    name               meaning
=====  =================  ======================================================
0      critical_error     the meter reports a critical error
1      clock_invalid      the meter's clock was not valid during the interval
2      data_not_valid     the meter marks the value as not valid
3      daylight_saving    the interval lies in summer time (informative)
5      clock_adjusted     the clock was set during the interval (a short/long one)
7      power_down         the power failed during the interval
=====  =================  ======================================================
"""

from __future__ import annotations

from collections.abc import Iterable

from meterhub.errors import InvalidValue

__all__ = ["DEFAULT_SUSPECT_BITS", "STATUS_BITS", "status_mask"]

#: Status bit names and their positions in the low byte of the status word.
STATUS_BITS = {
    "critical_error": 0,
    "clock_invalid": 1,
    "data_not_valid": 2,
    "daylight_saving": 3,
    "clock_adjusted": 5,
    "power_down": 7,
}

#: The bits that make a value suspect unless a profile says otherwise.
DEFAULT_SUSPECT_BITS = (
    "critical_error",
    "clock_invalid",
    "data_not_valid",
    "clock_adjusted",
    "power_down",
)


def status_mask(names: Iterable[str], field: str = "parameters.bits") -> int:
    """The bit mask of the status bits ``names``; an unknown name is :class:`InvalidValue`."""
    mask = 0
    for name in names:
        if name not in STATUS_BITS:
            raise InvalidValue(
                field, f"unknown status bit {name!r}; known: {', '.join(STATUS_BITS)}"
            )
        mask |= 1 << STATUS_BITS[name]
    return mask
