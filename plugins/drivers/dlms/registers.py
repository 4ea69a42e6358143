"""Reading registers and the clock: classes 1, 3, 4, 5, 8, 70 with scaler and unit.

A register's interface class decides how it is read (value and scaler/unit for a register, the
capture time of an extended or demand register, the time of a clock).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from gurux_dlms.enums import ObjectType
from gurux_dlms.objects import (
    GXDLMSClock,
    GXDLMSData,
    GXDLMSDemandRegister,
    GXDLMSDisconnectControl,
    GXDLMSExtendedRegister,
    GXDLMSRegister,
)
from gurux_dlms.objects.GXDLMSObject import GXDLMSObject

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import DeviceError, ProtocolError, Quality, Reading
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.dlms.cosem import (
    from_cosem_time,
    logical_name,
    obis_text,
    scaler_exponent,
    to_cosem_time,
    unit_text,
)
from meterhub.plugins.drivers.dlms.session import DlmsSession, number, plain
from meterhub.plugins.drivers.dlms.settings import (
    ACTIVITY_CALENDAR,
    CLOCK,
    DISCONNECT_CONTROL,
    IMAGE_TRANSFER,
    LIMITER,
)

__all__ = ["KNOWN_CLASSES", "RegisterReading"]

#: Interface classes of common OBIS codes; others are looked up in the association's list.
KNOWN_CLASSES = {
    CLOCK: ObjectType.CLOCK,
    DISCONNECT_CONTROL: ObjectType.DISCONNECT_CONTROL,
    LIMITER: ObjectType.LIMITER,
    ACTIVITY_CALENDAR: ObjectType.ACTIVITY_CALENDAR,
    IMAGE_TRANSFER: ObjectType.IMAGE_TRANSFER,
}


class RegisterReading(DlmsSession):
    """Registers, instantaneous values and the clock."""

    def read_object_list(self) -> list[tuple[int, str, int]]:
        """The association's object list: ``(class id, OBIS, version)`` per object."""
        if self._object_list is None:
            reply = self._request(self.client.getObjectsRequest(), "GET association object list")
            if reply.error:
                raise DeviceError(f"the meter refused its object list (result {reply.error})")
            try:
                # parseLNObjects: parseObjects would also look up every object's description in
                # gurux's OBIS table (about 100 ms for 25 objects), which a reading never uses.
                objects = self.client.parseLNObjects(reply.data, True, True)
            except Exception as exc:
                raise ProtocolError(f"cannot parse the object list: {exc}") from exc
            self._object_list = [
                (int(obj.objectType), obis_text(obj.logicalName), int(obj.version))
                for obj in objects
            ]
            for class_id, obis, _ in self._object_list:
                self._classes.setdefault(obis, class_id)
        return list(self._object_list)

    def _class_of(self, obis: str) -> int | None:
        if obis in KNOWN_CLASSES:
            return int(KNOWN_CLASSES[obis])
        if obis not in self._classes:
            self.read_object_list()
        return self._classes.get(obis)

    def _scaler_unit(self, obj: GXDLMSObject, obis: str) -> tuple[int, str | None, Quality]:
        if obis in self._scalers:
            return (*self._scalers[obis], Quality.VALID)
        attribute = 4 if isinstance(obj, GXDLMSDemandRegister) else 3
        _, quality = self._get(obj, attribute)
        if quality is not Quality.VALID:
            return 0, None, quality
        found = (scaler_exponent(obj.scaler), unit_text(obj.unit))
        self._scalers[obis] = found
        return (*found, Quality.VALID)

    def _read_one(self, obis: str, now: datetime) -> Reading:
        class_id = self._class_of(obis)
        if class_id is None:
            return Reading(obis, None, None, 0, now, Quality.NOT_AVAILABLE)
        ln = logical_name(obis)
        if class_id == ObjectType.CLOCK:
            value, quality = self._get(GXDLMSClock(ln), 2)
            moment = from_cosem_time(value)
            if quality is Quality.VALID and moment is None:
                quality = Quality.INVALID
            return Reading(obis, moment, None, 0, now, quality)
        if class_id in (ObjectType.REGISTER, ObjectType.EXTENDED_REGISTER):
            obj: GXDLMSObject = (
                GXDLMSRegister(ln)
                if class_id == ObjectType.REGISTER
                else GXDLMSExtendedRegister(ln)
            )
            scaler, unit, quality = self._scaler_unit(obj, obis)
            if quality is not Quality.VALID:
                return Reading(obis, None, None, 0, now, quality)
            value, quality = self._get(obj, 2, raw=True)
            stamp = now
            if quality is Quality.VALID and class_id == ObjectType.EXTENDED_REGISTER:
                captured, capture_quality = self._get(obj, 5)
                stamp = from_cosem_time(captured) or now
                if capture_quality is not Quality.VALID:
                    stamp = now
            return Reading(obis, number(value), unit, scaler, stamp, quality)
        if class_id == ObjectType.DEMAND_REGISTER:
            demand = GXDLMSDemandRegister(ln)
            scaler, unit, quality = self._scaler_unit(demand, obis)
            if quality is not Quality.VALID:
                return Reading(obis, None, None, 0, now, quality)
            value, quality = self._get(demand, 2, raw=True)
            stamp = now
            if quality is Quality.VALID:
                captured, _ = self._get(demand, 6)
                stamp = from_cosem_time(captured) or now
            return Reading(obis, number(value), unit, scaler, stamp, quality)
        if class_id == ObjectType.DISCONNECT_CONTROL:
            value, quality = self._get(GXDLMSDisconnectControl(ln), 2)
            return Reading(obis, None if value is None else int(bool(value)), None, 0, now, quality)
        if class_id == ObjectType.DATA:
            value, quality = self._get(GXDLMSData(ln), 2)
            return Reading(obis, plain(value), None, 0, now, quality)
        return Reading(obis, None, None, 0, now, Quality.UNSUPPORTED)

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Registers (classes 1, 3, 4, 5, 8, 70) with scaler and unit, in the order asked."""
        codes = [canonical_obis(code, field="obis_codes") for code in obis_codes]
        now = datetime.now(UTC)
        return [self._read_one(code, now) for code in codes]

    def read_instantaneous(self) -> list[Reading]:
        """The registers of the ``instantaneous`` setting."""
        return self.read_registers(self.settings.instantaneous_codes)

    def read_clock(self) -> Reading:
        """The meter time (``0-0:1.0.0*255``), stamped with the system time it was read at."""
        value, quality = self._get(GXDLMSClock(logical_name(CLOCK)), 2)
        moment = from_cosem_time(value)
        if quality is Quality.VALID and moment is None:
            quality = Quality.INVALID
        return Reading(CLOCK, moment, None, 0, datetime.now(UTC), quality)

    def set_clock(self, time: datetime) -> Quality:
        """Write the clock's time (attribute 2) in UTC."""
        if time.tzinfo is None or time.utcoffset() is None:
            raise InvalidValue("time", "must be an aware datetime")
        clock = GXDLMSClock(logical_name(CLOCK))
        clock.time = to_cosem_time(time)
        return self._set(clock, 2)
