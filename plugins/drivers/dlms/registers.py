"""Reading registers and the clock: classes 1, 3, 4, 5, 8, 70 with scaler and unit.

A register's interface class decides how it is read (value and scaler/unit for a register, the
capture time of an extended or demand register, the time of a clock); :mod:`.classes` says where
the class comes from — never from an object list read in every session.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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
from meterhub.plugins.drivers.dlms.association import Association
from meterhub.plugins.drivers.dlms.classes import ClassSource, ObjectList
from meterhub.plugins.drivers.dlms.cosem import (
    from_cosem_time,
    logical_name,
    obis_text,
    scaler_exponent,
    to_cosem_time,
    unit_text,
)
from meterhub.plugins.drivers.dlms.session import number, plain
from meterhub.plugins.drivers.dlms.settings import CLOCK

__all__ = ["RegisterReading"]

#: Data-access-results that say a guessed class was wrong: object-undefined (a meter that looks
#: objects up by class and name) and object-class-inconsistent.
_WRONG_CLASS = frozenset({4, 9})


class RegisterReading(Association):
    """Registers, instantaneous values and the clock."""

    def read_object_list(self) -> list[tuple[int, str, int]]:
        """The association's object list, read from the meter: ``(class id, OBIS, version)``.

        The session then takes classes from it, and :attr:`state` hands it back as
        ``object_list`` (compact text with the read time) for the caller to keep in the meter's
        settings: later sessions need neither the list nor a guess.
        """
        self._object_list_tried = True
        reply = self._request(self.client.getObjectsRequest(), "GET association object list")
        if reply.error:
            raise DeviceError(f"the meter refused its object list (result {reply.error})")
        try:
            # parseLNObjects: parseObjects would also look up every object's description in
            # gurux's OBIS table (about 100 ms for 25 objects), which a reading never uses.
            objects = self.client.parseLNObjects(reply.data, True, True)
        except Exception as exc:
            raise ProtocolError(f"cannot parse the object list: {exc}") from exc
        listing = ObjectList.from_entries(
            (int(obj.objectType), obis_text(obj.logicalName), int(obj.version))
            for obj in objects
        )
        self.directory.object_list = listing
        self._object_list_read = True
        self.trace.note(f"object list: {len(listing.objects)} objects")
        return listing.entries()

    def _object_list_on_demand(self, why: str) -> bool:
        """Read the object list once in this session when the settings allow; whether it was."""
        if not self.settings.object_list_on_demand or self._object_list_tried:
            return False
        self.trace.note(f"{why}: reading the object list once")
        try:
            self.read_object_list()
        except DeviceError as exc:
            self.trace.note(f"no object list: {exc}")
            return False
        return True

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

    def _read_one(self, obis: str, now: datetime, requested: int | None = None) -> Reading:
        """One code: its class from :attr:`directory`, the object list read once if needed."""
        self.last_access_result = None
        class_id, source = self.directory.resolve(obis, requested)
        if class_id is None and source is ClassSource.UNKNOWN:
            if self._object_list_on_demand(f"no class known for {obis}"):
                class_id, source = self.directory.resolve(obis, requested)
        if class_id is None:
            where = (
                f"not in the object list read at {self.directory.object_list.read_at:%Y-%m-%dT%H:%M:%SZ}"
                if source is ClassSource.OBJECT_LIST and self.directory.object_list
                else "no interface class known (give it in object_classes or read_object_list())"
            )
            self.trace.note(f"{obis}: {where}")
            return Reading(obis, None, None, 0, now, Quality.NOT_AVAILABLE)
        reading = self._read_as(obis, class_id, now)
        if source is ClassSource.STANDARD and self.last_access_result in _WRONG_CLASS:
            if self._object_list_on_demand(f"{obis} refused as class {class_id}"):
                declared, source = self.directory.resolve(obis, requested)
                if declared is not None and declared != class_id:
                    return self._read_as(obis, declared, now)
        return reading

    def _read_as(self, obis: str, class_id: int, now: datetime) -> Reading:
        """Read ``obis`` as an object of interface class ``class_id``."""
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

    def read_registers(
        self, obis_codes: Sequence[str], classes: Mapping[str, int] | None = None
    ) -> list[Reading]:
        """Registers (classes 1, 3, 4, 5, 8, 70) with scaler and unit, in the order asked.

        ``classes`` gives the interface class of codes the caller knows (``{"1-0:1.8.0": 4}``);
        the others come from the settings, the kept object list or the OBIS conventions
        (:mod:`.classes`).
        """
        codes = [canonical_obis(code, field="obis_codes") for code in obis_codes]
        requested = {
            canonical_obis(code, field="classes"): int(class_id)
            for code, class_id in (classes or {}).items()
        }
        now = datetime.now(UTC)
        return [self._read_one(code, now, requested.get(code)) for code in codes]

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
