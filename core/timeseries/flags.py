"""Status flags of normalized values: one unsigned 32-bit word per value.

=========  ==========================================================================
bits 0-7   the meter's status, low byte of its status word (the DLMS AMR profile status:
           the full word stays with the raw value)
bits 8-15  MeterHub quality flags (:class:`Flag`)
bits 16-23 estimation method (:class:`EstimationMethod`) of an estimated value
bits 24-31 reserved
=========  ==========================================================================

Reads filter with three masks: ``flags_all`` (every bit set), ``flags_any`` (at least one set) and
``flags_none`` (none set). Raw reads apply the same masks to the meter's status word.
"""

from __future__ import annotations

from enum import IntEnum, IntFlag

#: Bits of the meter's status copied into the normalized flags.
METER_STATUS_MASK = 0xFF

#: Where the estimation method sits in the flag word.
METHOD_SHIFT = 16
METHOD_MASK = 0xFF << METHOD_SHIFT


class Flag(IntFlag):
    """MeterHub's quality flags of a normalized value."""

    #: Validation ran over the value.
    VALIDATED = 1 << 8
    #: Validation found the value implausible.
    SUSPECT = 1 << 9
    #: The value is an estimate; the method is in bits 16-23.
    ESTIMATED = 1 << 10
    #: The value replaces a measured one (by estimation or by hand).
    SUBSTITUTED = 1 << 11
    #: The value was entered by a person.
    MANUAL = 1 << 12
    #: The meter delivered a different value for this slot on a re-read (see conflicts).
    CONFLICT = 1 << 13
    #: The value must not be replaced by estimation or recalculation.
    LOCKED = 1 << 14


#: Flags of values someone made rather than measured: kept by ``recalculate(keep_edits=True)``.
EDIT_FLAGS = Flag.ESTIMATED | Flag.SUBSTITUTED | Flag.MANUAL | Flag.LOCKED


class EstimationMethod(IntEnum):
    """How an estimated value was made (stored in bits 16-23 of its flags)."""

    NONE = 0
    LINEAR_INTERPOLATION = 1
    LIKE_DAY = 2
    PROFILE = 3
    FLAT = 4
    ZERO = 5
    MANUAL_COPY = 6
    CALCULATED = 7
    NULL = 8
    LAST_PLAUSIBLE = 9
    HIERARCHY = 10
    CHECK_METER = 11
    SCRIPT = 12
    OTHER = 255


def with_method(flags: int, method: EstimationMethod | int) -> int:
    """``flags`` with the estimation method ``method`` and :attr:`Flag.ESTIMATED` set."""
    return (flags & ~METHOD_MASK) | Flag.ESTIMATED | ((int(method) & 0xFF) << METHOD_SHIFT)


def method_of(flags: int) -> EstimationMethod | int:
    """The estimation method stored in ``flags`` (an unknown code comes back as an ``int``)."""
    code = (flags & METHOD_MASK) >> METHOD_SHIFT
    try:
        return EstimationMethod(code)
    except ValueError:
        return code
