"""Control actions: supply disconnect (class 70), load limiter (class 71), TOU calendar (20)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from gurux_dlms.enums import DataType
from gurux_dlms.objects import GXDLMSActivityCalendar, GXDLMSDisconnectControl, GXDLMSLimiter

from meterhub.extensions.driver import LoadLimit, Quality
from meterhub.plugins.drivers.dlms.calendar import calendar_from_json, calendar_to_json
from meterhub.plugins.drivers.dlms.cosem import logical_name, to_cosem_time
from meterhub.plugins.drivers.dlms.session import DlmsSession
from meterhub.plugins.drivers.dlms.session import number as _number
from meterhub.plugins.drivers.dlms.settings import ACTIVITY_CALENDAR, DISCONNECT_CONTROL, LIMITER

__all__ = ["SupplyControl"]


class SupplyControl(DlmsSession):
    """Disconnect control, load limit and tariff calendar."""

    def disconnect_supply(self) -> Quality:
        """Disconnect control (class 70) method 1, remote_disconnect."""
        control = GXDLMSDisconnectControl(logical_name(DISCONNECT_CONTROL))
        if not self._addressed(control):
            return Quality.NOT_AVAILABLE
        return self._method(control.remoteDisconnect(self.client), "ACTION remote_disconnect")

    def reconnect_supply(self) -> Quality:
        """Disconnect control (class 70) method 2, remote_reconnect."""
        control = GXDLMSDisconnectControl(logical_name(DISCONNECT_CONTROL))
        if not self._addressed(control):
            return Quality.NOT_AVAILABLE
        return self._method(control.remoteReconnect(self.client), "ACTION remote_reconnect")

    def read_load_limit(self) -> LoadLimit:
        """The limiter's (class 71) thresholds: active (3), normal (4) and emergency (5).

        The thresholds are in the units of the monitored value, as the meter holds them.
        """
        limiter = GXDLMSLimiter(logical_name(LIMITER))
        found: dict[str, float | None] = {}
        first: Quality | None = None
        for key, attribute in (("active", 3), ("normal", 4), ("emergency", 5)):
            value, quality = self._get(limiter, attribute, raw=True)
            found[key] = _number(value) if quality is Quality.VALID else None
            first = first or (None if quality is Quality.VALID else quality)
        if all(value is None for value in found.values()):
            return LoadLimit(quality=first or Quality.NOT_AVAILABLE)
        return LoadLimit(
            normal=found["normal"], emergency=found["emergency"], active=found["active"]
        )

    def set_load_limit(self, normal: float, emergency: float | None = None) -> Quality:
        """Write the limiter's normal (and emergency) threshold, in the monitored value's units."""
        limiter = GXDLMSLimiter(logical_name(LIMITER))
        limiter.thresholdNormal = int(normal)
        limiter.setDataType(4, DataType.UINT32)
        quality = self._set(limiter, 4)
        if quality is Quality.VALID and emergency is not None:
            limiter.thresholdEmergency = int(emergency)
            limiter.setDataType(5, DataType.UINT32)
            quality = self._set(limiter, 5)
        return quality

    def upload_tariff(self, calendar: Mapping[str, Any]) -> Quality:
        """Write a TOU calendar (class 20) as the passive calendar, then activate it.

        ``calendar`` is plain JSON (see :func:`calendar_from_json`); with ``activate_at`` (ISO
        time) the meter switches then, otherwise at once (method 1).
        """
        obj = calendar_from_json(calendar)
        for attribute in (6, 7, 8, 9):
            quality = self._set(obj, attribute)
            if quality is not Quality.VALID:
                return quality
        when = calendar.get("activate_at")
        if when:
            obj.time = to_cosem_time(datetime.fromisoformat(str(when)))
            return self._set(obj, 10)
        if not self._addressed(obj):
            return Quality.NOT_AVAILABLE
        frames = self.client.method(obj, 1, 0, DataType.INT8)
        return self._method(frames, "ACTION activate_passive_calendar")

    def read_tariff(self, *, passive: bool = False) -> dict[str, Any] | None:
        """The active (or passive) calendar as plain JSON, as :meth:`upload_tariff` takes it."""
        obj = GXDLMSActivityCalendar(logical_name(ACTIVITY_CALENDAR))
        attributes = (6, 7, 8, 9) if passive else (2, 3, 4, 5)
        for attribute in attributes:
            _, quality = self._get(obj, attribute)
            if quality is not Quality.VALID:
                return None
        return calendar_to_json(obj, passive=passive)
