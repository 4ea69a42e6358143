"""Event texts of DLMS event logs.

The code an event log captures means what the meter's maker says it means. This module holds
the standard codes of the DLMS UA Blue Book (the standard event log); tables per meter type
replace it where a manufacturer numbers otherwise.
"""

from __future__ import annotations

__all__ = ["EVENT_TEXTS"]

#: Standard event codes (IEC 62056-6-2 / DLMS UA Blue Book, standard event log).
EVENT_TEXTS = {
    1: "Power down",
    2: "Power up",
    3: "Daylight saving time enabled or disabled",
    4: "Clock adjusted (old date/time)",
    5: "Clock adjusted (new date/time)",
    6: "Clock invalid",
    7: "Replace battery",
    8: "Battery voltage low",
    9: "TOU activated",
    10: "Error register cleared",
    11: "Alarm register cleared",
    12: "Program memory error",
    13: "RAM error",
    14: "NV memory error",
    15: "Watchdog error",
    16: "Measurement system error",
    17: "Firmware ready for activation",
    18: "Firmware activated",
}
