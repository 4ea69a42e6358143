"""Reading registers and the clock: classes 1, 3, 4, 5, 8, 70 with scaler and unit.

A register's interface class decides how it is read (value and scaler/unit for a register, the
capture time of an extended or demand register, the time of a clock); :mod:`.classes` says where
the class comes from — never from an object list read in every session.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from gurux_dlms.enums import ObjectType
from gurux_dlms.GXDLMSClient import GXDLMSClient
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
from meterhub.plugins.drivers.dlms.batch import BatchReading, Item
from meterhub.plugins.drivers.dlms.classes import ClassSource, ObjectList
from meterhub.plugins.drivers.dlms.cosem import (
    canonical,
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


@dataclass(slots=True)
class _Plan:
    """How one code is read: its items (value, scaler, capture time) and their results."""

    obis: str
    class_id: int
    value: Item | None
    items: list[Item]
    scaler: Item | None = None
    capture: Item | None = None

    def refused(self) -> int | None:
        """The data-access-result of the first refused item (``None``: none refused)."""
        return next((item.result for item in self.items if item.result is not None), None)


#: Register classes: value (attribute 2) raw, scaler and unit apart.
_REGISTERS = frozenset(
    {ObjectType.REGISTER, ObjectType.EXTENDED_REGISTER, ObjectType.DEMAND_REGISTER}
)
#: The capture-time attribute of extended (4) and demand (5) registers.
_CAPTURE_TIME = {ObjectType.EXTENDED_REGISTER: 5, ObjectType.DEMAND_REGISTER: 6}
#: The gurux object of each class ``read_registers`` reads.
_OBJECTS: dict[int, Callable[[str], GXDLMSObject]] = {
    ObjectType.DATA: GXDLMSData,
    ObjectType.REGISTER: GXDLMSRegister,
    ObjectType.EXTENDED_REGISTER: GXDLMSExtendedRegister,
    ObjectType.DEMAND_REGISTER: GXDLMSDemandRegister,
    ObjectType.CLOCK: GXDLMSClock,
    ObjectType.DISCONNECT_CONTROL: GXDLMSDisconnectControl,
}


class RegisterReading(BatchReading):
    """Registers, instantaneous values and the clock."""

    def read_object_list(self) -> list[tuple[int, str, int]]:
        """The association's object list, read from the meter: ``(class id, OBIS, version)``.

        The session then takes classes (and, with short names, base names) from it, and
        :attr:`state` hands it back as ``object_list`` (compact text with the read time) for
        the caller to keep in the meter's settings: later sessions need neither the list nor
        a guess.
        """
        self._object_list_tried = True
        listing = self._fetch_object_list(self.client)
        self.directory.object_list = listing
        self._object_list_read = True
        return listing.entries()

    def _fetch_object_list(self, client: GXDLMSClient) -> ObjectList:
        """Read ``client``'s association object list (class 15, or class 12 with short names)."""
        reply = self._request(
            client.getObjectsRequest(), "GET association object list", client=client
        )
        if reply.error:
            raise DeviceError(f"the meter refused its object list (result {reply.error})")
        try:
            # parseLNObjects/parseSNObjects: parseObjects would also look up every object's
            # description in gurux's OBIS table (about 100 ms for 25 objects), which a reading
            # never uses.
            if self.short_names:
                objects = client.parseSNObjects(reply.data, True, True)
            else:
                objects = client.parseLNObjects(reply.data, True, True)
        except Exception as exc:
            raise ProtocolError(f"cannot parse the object list: {exc}") from exc
        listing = ObjectList.from_entries(
            (
                int(obj.objectType),
                obis_text(obj.logicalName),
                int(obj.version),
                int(obj.shortName) if self.short_names else 0,
            )
            for obj in objects
        )
        self.trace.note(f"object list: {len(listing.objects)} objects")
        return listing

    def _object_list_on_demand(self, why: str, client: GXDLMSClient | None = None) -> bool:
        """Read the object list once in this session when the settings allow; whether it was.

        Another client's list (the public client's, reading the frame counter) only lends its
        base names: it is not the session's object list.
        """
        if not self.settings.object_list_on_demand:
            return False
        if client is not None and client is not self.client:
            self.trace.note(f"{why}: reading the object list of this client")
            try:
                listing = self._fetch_object_list(client)
            except DeviceError as exc:
                self.trace.note(f"no object list: {exc}")
                return False
            for obis, base_name in listing.base_names.items():
                self.directory.short_names.setdefault(obis, base_name)
            return True
        if self._object_list_tried:
            return False
        self.trace.note(f"{why}: reading the object list once")
        try:
            self.read_object_list()
        except DeviceError as exc:
            self.trace.note(f"no object list: {exc}")
            return False
        return True

    def _plan(self, obis: str, class_id: int) -> _Plan:
        """The attributes that make a reading of ``obis`` as an object of ``class_id``."""
        ln = logical_name(obis)
        maker = _OBJECTS.get(class_id)
        if maker is None:
            return _Plan(obis, class_id, None, [])
        obj = maker(ln)
        value = Item(obj, 2, raw=class_id in _REGISTERS)
        items = [value]
        scaler = capture = None
        if class_id in _REGISTERS:
            if obis not in self._scalers:
                scaler = Item(obj, 4 if class_id == ObjectType.DEMAND_REGISTER else 3)
                items.insert(0, scaler)  # one by one, a refused scaler saves the value's GET
            if class_id != ObjectType.REGISTER:
                capture = Item(obj, _CAPTURE_TIME[class_id], required=False)
                items.append(capture)
        return _Plan(obis, class_id, value, items, scaler, capture)

    def _reading(self, plan: _Plan, now: datetime) -> Reading:
        """The reading of a plan whose items were read."""
        obis, value = plan.obis, plan.value
        if value is None:
            return Reading(obis, None, None, 0, now, Quality.UNSUPPORTED)
        if plan.scaler is not None:
            if plan.scaler.quality is not Quality.VALID:
                return Reading(obis, None, None, 0, now, plan.scaler.quality)
            obj = plan.scaler.obj
            self._scalers[obis] = (scaler_exponent(obj.scaler), unit_text(obj.unit))
        if value.quality is not Quality.VALID:
            return Reading(obis, None, None, 0, now, value.quality)
        if value.value is None:
            self.trace.note(f"{obis}: the meter sent no value")
            return Reading(obis, None, None, 0, now, Quality.INVALID)
        class_id = plan.class_id
        if class_id == ObjectType.CLOCK:
            moment = from_cosem_time(value.value)
            quality = Quality.VALID if moment is not None else Quality.INVALID
            return Reading(obis, moment, None, 0, now, quality)
        if class_id == ObjectType.DISCONNECT_CONTROL:
            return Reading(obis, int(bool(value.value)), None, 0, now, Quality.VALID)
        if class_id == ObjectType.DATA:
            return Reading(obis, plain(value.value), None, 0, now, Quality.VALID)
        scaler, unit = self._scalers[obis]
        stamp = now
        if plan.capture is not None and plan.capture.quality is Quality.VALID:
            stamp = from_cosem_time(plan.capture.value) or now
        return Reading(obis, number(value.value), unit, scaler, stamp, Quality.VALID)

    def _resolve(self, obis: str, requested: int | None) -> tuple[int | None, ClassSource]:
        """The class of ``obis``; an unknown one may make the session read the object list."""
        class_id, source = self.directory.resolve(obis, requested)
        if class_id is None and source is ClassSource.UNKNOWN:
            if self._object_list_on_demand(f"no class known for {obis}"):
                class_id, source = self.directory.resolve(obis, requested)
        if class_id is None:
            listing = self.directory.object_list
            where = (
                f"not in the object list read at {listing.read_at:%Y-%m-%dT%H:%M:%SZ}"
                if source is ClassSource.OBJECT_LIST and listing is not None
                else "no interface class known (give it in object_classes or read_object_list())"
            )
            self.trace.note(f"{obis}: {where}")
        return class_id, source

    def read_registers(
        self, obis_codes: Sequence[str], classes: Mapping[str, int] | None = None
    ) -> list[Reading]:
        """Registers (classes 1, 3, 4, 5, 8, 70) with scaler and unit, in the order asked.

        ``classes`` gives the interface class of codes the caller knows (``{"1-0:1.8.0": 4}``);
        the others come from the settings, the kept object list or the OBIS conventions
        (:mod:`.classes`). The attributes of all codes are read together, by list where the
        meter allows it (:mod:`.batch`).
        """
        codes = [canonical(code, "obis_codes") for code in obis_codes]
        requested = {
            canonical(code, "classes"): int(class_id) for code, class_id in (classes or {}).items()
        }
        now = datetime.now(UTC)
        plans: list[_Plan | None] = []
        sources: list[ClassSource] = []
        for code in codes:
            class_id, source = self._resolve(code, requested.get(code))
            plans.append(None if class_id is None else self._plan(code, class_id))
            sources.append(source)
        self.read_items([plan.items for plan in plans if plan is not None])
        readings = []
        for code, plan, source in zip(codes, plans, sources, strict=True):
            if plan is None:
                readings.append(Reading(code, None, None, 0, now, Quality.NOT_AVAILABLE))
                continue
            reading = self._reading(plan, now)
            if source is ClassSource.STANDARD and plan.refused() in _WRONG_CLASS:
                reading = self._reread(plan, reading, requested.get(code), now)
            readings.append(reading)
        return readings

    def _reread(
        self, plan: _Plan, reading: Reading, requested: int | None, now: datetime
    ) -> Reading:
        """A code the conventions got wrong: the object list says its class, read it again."""
        if not self._object_list_on_demand(f"{plan.obis} refused as class {plan.class_id}"):
            return reading
        declared, _ = self.directory.resolve(plan.obis, requested)
        if declared is None or declared == plan.class_id:
            return reading
        again = self._plan(plan.obis, declared)
        self.read_items([again.items])
        return self._reading(again, now)

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
