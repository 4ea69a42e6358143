"""The DLMS/COSEM driver: gurux-dlms' client over MeterHub's media, quality per value.

Address: ``host:port`` (TCP, e.g. ``10.0.0.5:4059``) or a serial device (``/dev/ttyUSB0``,
a pty). Without a medium from the core the driver opens a ``tcp`` or ``serial`` medium itself.
Settings (all text; see :data:`SETTINGS` and ``docs/drivers/dlms.md``):

* ``framing``: ``wrapper`` (default over TCP) or ``hdlc`` (default over serial);
* ``client_address`` (default 16), ``logical_address`` (server, default 1),
  ``physical_address`` (HDLC, default 17);
* ``authentication``: ``none`` (default), ``low`` (needs ``password``) or ``high`` (HLS GMAC,
  security suite 0; needs ``authentication_key``, ``block_cipher_key`` as hex and the
  client's ``system_title`` as 16 hex digits; ``security`` ``authentication_encryption``
  (default), ``authentication``, ``encryption`` or ``none``);
* ``invocation_counter``: the next frame counter for HLS (default 1); after the session
  :attr:`DlmsConnection.state` holds the next one to store back (see below);
* ``timeout``: seconds per answer (default 5); ``max_pdu`` (default 1024);
* ``image_transfer`` (default ``0-0:44.0.0*255``): the image transfer object (class 18) of
  :meth:`DlmsConnection.upgrade_firmware`; ``firmware_timeout`` (default 120): seconds the meter
  has to verify and to activate an image;
* ``load_profile`` (default ``1-0:99.1.0``), ``event_log`` (``0-0:99.98.0``),
  ``daily_profile`` (``1-0:98.2.0``), ``monthly_profile`` (``1-0:98.1.0``),
  ``instantaneous`` (comma list, default ``1-0:1.7.0,1-0:32.7.0,1-0:31.7.0``);
* serial line settings are passed to the ``serial`` medium (``baudrate`` ...).

**Invocation counter.** A meter with HLS rejects a frame counter it has seen before, so the
counter must survive sessions. :attr:`DlmsConnection.state` is a mapping of settings to write
back to the meter's driver settings after the session (``{"invocation_counter": "42"}``); the
acquisition engine merges it, and a caller without one stores it itself.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from gurux_dlms import GXByteBuffer, GXDLMSException, GXReplyData
from gurux_dlms.enums import Authentication, DataType, InterfaceType, ObjectType, Security
from gurux_dlms.GXDLMSClient import GXDLMSClient
from gurux_dlms.GXDLMSConfirmedServiceError import GXDLMSConfirmedServiceError
from gurux_dlms.GXDLMSExceptionResponse import GXDLMSExceptionResponse
from gurux_dlms.objects import (
    GXDLMSActivityCalendar,
    GXDLMSClock,
    GXDLMSData,
    GXDLMSDayProfile,
    GXDLMSDayProfileAction,
    GXDLMSDemandRegister,
    GXDLMSDisconnectControl,
    GXDLMSExtendedRegister,
    GXDLMSImageTransfer,
    GXDLMSLimiter,
    GXDLMSProfileGeneric,
    GXDLMSRegister,
    GXDLMSSeasonProfile,
    GXDLMSWeekProfile,
)
from gurux_dlms.objects.enums import ImageTransferStatus
from gurux_dlms.objects.GXDLMSObject import GXDLMSObject
from gurux_dlms.secure import GXDLMSSecureClient

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import (
    Action,
    AuthenticationFailed,
    DeviceError,
    Driver,
    DriverConnection,
    DriverError,
    DriverInfo,
    EventLog,
    LinkLost,
    LoadProfile,
    MeterEvent,
    ProtocolError,
    Quality,
    Reading,
)
from meterhub.extensions.medium import Medium
from meterhub.extensions.trace import FrameTrace
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.dlms import gurux_compat
from meterhub.plugins.drivers.dlms.cosem import (
    from_cosem_time,
    logical_name,
    obis_text,
    scaler_exponent,
    to_cosem_time,
    unit_text,
)
from meterhub.plugins.drivers.dlms.link import FrameLink

__all__ = [
    "SETTINGS",
    "DlmsConnection",
    "DlmsDriver",
    "ImageTransferFailed",
    "calendar_from_json",
]

log = logging.getLogger(__name__)

CLOCK = "0-0:1.0.0*255"
DISCONNECT_CONTROL = "0-0:96.3.10*255"
LIMITER = "0-0:17.0.0*255"
ACTIVITY_CALENDAR = "0-0:13.0.0*255"
IMAGE_TRANSFER = "0-0:44.0.0*255"

#: Every setting the driver knows, with its default ("" = none).
SETTINGS: Mapping[str, str] = {
    "framing": "",
    "client_address": "16",
    "logical_address": "1",
    "physical_address": "17",
    "authentication": "none",
    "password": "",
    "authentication_key": "",
    "block_cipher_key": "",
    "system_title": "",
    "security": "authentication_encryption",
    "invocation_counter": "1",
    "timeout": "5",
    "max_pdu": "1024",
    "image_transfer": IMAGE_TRANSFER,
    "firmware_timeout": "120",
    "load_profile": "1-0:99.1.0*255",
    "event_log": "0-0:99.98.0*255",
    "daily_profile": "1-0:98.2.0*255",
    "monthly_profile": "1-0:98.1.0*255",
    "instantaneous": "1-0:1.7.0*255,1-0:32.7.0*255,1-0:31.7.0*255",
}
_SERIAL_SETTINGS = ("baudrate", "bytesize", "parity", "stopbits", "rtscts", "xonxoff")
_TCP_SETTINGS = ("nodelay", "keepalive")
_SECURITY = {
    "none": Security.NONE,
    "authentication": Security.AUTHENTICATION,
    "encryption": Security.ENCRYPTION,
    "authentication_encryption": Security.AUTHENTICATION_ENCRYPTION,
}
_AUTHENTICATION = {
    "none": Authentication.NONE,
    "low": Authentication.LOW,
    "high": Authentication.HIGH_GMAC,
}
#: Data-access-result codes (IEC 62056-5-3) → the quality of the value.
_ACCESS_RESULT = {
    1: Quality.UNKNOWN_ERROR,  # hardware fault
    2: Quality.DEVICE_BUSY,  # temporary failure
    3: Quality.ACCESS_DENIED,  # read-write denied
    4: Quality.NOT_AVAILABLE,  # object undefined
    9: Quality.NOT_AVAILABLE,  # object class inconsistent
    11: Quality.NOT_AVAILABLE,  # object unavailable
    12: Quality.INVALID,  # type unmatched
    13: Quality.ACCESS_DENIED,  # scope of access violated
    14: Quality.UNSUPPORTED,  # data block unavailable
    16: Quality.UNSUPPORTED,  # long set aborted
    250: Quality.UNKNOWN_ERROR,  # other reason
}
#: Interface classes of common OBIS codes; others are looked up in the association's list.
_KNOWN_CLASSES = {
    CLOCK: ObjectType.CLOCK,
    DISCONNECT_CONTROL: ObjectType.DISCONNECT_CONTROL,
    LIMITER: ObjectType.LIMITER,
    ACTIVITY_CALENDAR: ObjectType.ACTIVITY_CALENDAR,
    IMAGE_TRANSFER: ObjectType.IMAGE_TRANSFER,
}
#: How often a block the meter reports missing is sent again before the transfer fails.
_BLOCK_RETRIES = 3
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


class ImageTransferFailed(DeviceError):
    """A firmware image transfer the meter started failed (class 18, ``upgrade_firmware``).

    ``step`` is where: ``initiate``, ``transfer``, ``verify`` or ``activate``; ``status`` the
    last image_transfer_status the meter reported (IEC 62056-6-2: 1 initiated, 2 verification
    initiated, 3 verified, 4 verification failed, 5 activation initiated, 6 activated,
    7 activation failed), or ``None`` when it was not read.
    """

    def __init__(
        self, message: str, step: str, status: int | None = None, *, frame: bytes | None = None
    ) -> None:
        super().__init__(message, frame=frame)
        self.step = step
        self.status = status


def _setting(settings: Mapping[str, str], key: str) -> str:
    value = settings.get(key)
    return SETTINGS[key] if value is None or str(value).strip() == "" else str(value).strip()


def _int(settings: Mapping[str, str], key: str, low: int, high: int) -> int:
    text = _setting(settings, key)
    try:
        value = int(text, 0)
    except ValueError:
        raise InvalidValue(f"settings.{key}", f"must be a whole number, got {text!r}") from None
    if not low <= value <= high:
        raise InvalidValue(f"settings.{key}", f"must be {low}..{high}, got {value}")
    return value


def _hex(settings: Mapping[str, str], key: str, sizes: tuple[int, ...]) -> bytearray:
    text = _setting(settings, key).replace(" ", "")
    try:
        value = bytes.fromhex(text)
    except ValueError:
        value = b""
    if len(value) not in sizes:
        wanted = " or ".join(f"{2 * size} hex digits" for size in sizes)
        # The value is a secret: never put it in the message.
        raise InvalidValue(f"settings.{key}", f"must be {wanted}")
    return bytearray(value)


def _obis(text: str, key: str) -> str:
    return canonical_obis(text, field=f"settings.{key}")


class DlmsDriver(Driver):
    """DLMS/COSEM meters with logical name referencing, over the wrapper or HDLC."""

    name: ClassVar[str] = "dlms"

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the DLMS driver."""
        return DriverInfo(
            name=cls.name,
            description="DLMS/COSEM (IEC 62056) with gurux-dlms: wrapper or HDLC, LN referencing",
            actions=frozenset(
                {
                    Action.READ_LOAD_PROFILE,
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_EVENTS,
                    Action.READ_CLOCK,
                    Action.SET_CLOCK,
                    Action.DISCONNECT_SUPPLY,
                    Action.RECONNECT_SUPPLY,
                    Action.UPLOAD_TARIFF,
                    Action.UPGRADE_FIRMWARE,
                }
            ),
            address_syntax="host:port (TCP, e.g. 10.0.0.5:4059) or a serial device (/dev/ttyUSB0)",
            settings_syntax="; ".join(
                f"{key}={value}" if value else f"{key}=<value>" for key, value in SETTINGS.items()
            ),
            media=("tcp", "serial", "modem"),
        )

    def connect(
        self, address: str, settings: Mapping[str, str], medium: Medium | None = None
    ) -> DlmsConnection:
        """Open a session: medium (unless given), SNRM for HDLC, AARQ, HLS when asked.

        :raises LinkLost: the meter cannot be reached (``MeterTimeout``: it does not answer).
        :raises AuthenticationFailed: the meter refused the association (password, keys).
        :raises ProtocolError: an answer that cannot be right.
        :raises meterhub.errors.InvalidValue: the address or a setting is malformed.
        """
        if not isinstance(address, str) or not address.strip():
            raise InvalidValue("address", "must be host:port or a serial device path")
        address = address.strip()
        serial_line = address.startswith("/") or address.upper().startswith("COM")
        own = medium is None
        if medium is None:
            medium = _open_medium(address, settings, serial_line)
        connection = DlmsConnection(address, settings, medium, own_medium=own, serial=serial_line)
        try:
            connection.open()
        except BaseException:
            connection.close()
            raise
        return connection


def _open_medium(address: str, settings: Mapping[str, str], serial_line: bool) -> Medium:
    if serial_line:
        from meterhub.plugins.media.serial import SerialMedium

        keys = _SERIAL_SETTINGS
        line: Medium = SerialMedium(
            address, {key: settings[key] for key in keys if key in settings}, FrameTrace()
        )
    else:
        from meterhub.plugins.media.tcp import TcpMedium

        keys = _TCP_SETTINGS
        line = TcpMedium(
            address, {key: settings[key] for key in keys if key in settings}, FrameTrace()
        )
    line.open(float(_setting(settings, "timeout")))
    return line


class DlmsConnection(DriverConnection):
    """A DLMS association with one meter (see the module docstring for the settings)."""

    driver_name = "dlms"

    def __init__(
        self,
        address: str,
        settings: Mapping[str, str],
        medium: Medium,
        *,
        own_medium: bool = False,
        serial: bool = False,
    ) -> None:
        gurux_compat.install()  # silences gurux's prints (defect 14) on the client side too
        unknown = sorted(set(settings) - set(SETTINGS) - set(_SERIAL_SETTINGS) - set(_TCP_SETTINGS))
        if unknown:
            raise InvalidValue("settings", f"unknown setting {unknown[0]!r}")
        self.address = address
        self.medium = medium
        self._own_medium = own_medium
        if medium.trace is None:
            medium.trace = FrameTrace()
        #: The session's frames (the medium records tx/rx, the driver adds notes).
        self.trace: FrameTrace = medium.trace
        framing = _setting(settings, "framing") or ("hdlc" if serial else "wrapper")
        if framing not in ("wrapper", "hdlc"):
            raise InvalidValue("settings.framing", f"must be wrapper or hdlc, not {framing!r}")
        self.framing = framing
        auth = _setting(settings, "authentication")
        if auth not in _AUTHENTICATION:
            raise InvalidValue("settings.authentication", "must be none, low or high")
        self.authentication = auth
        self.timeout = float(_int(settings, "timeout", 1, 600))
        max_pdu = _int(settings, "max_pdu", 64, 65535)
        client_address = _int(settings, "client_address", 1, 0x7F)
        logical = _int(settings, "logical_address", 0, 0x3FFF)
        if framing == "hdlc":
            physical = _int(settings, "physical_address", 0, 0x3FFF)
            server_address = GXDLMSClient.getServerAddress(logical, physical)
            interface = InterfaceType.HDLC
        else:
            server_address = logical
            interface = InterfaceType.WRAPPER
        password = None
        if auth == "low":
            password = _setting(settings, "password")
            if not password:
                raise InvalidValue("settings.password", "is needed for authentication=low")
        client = GXDLMSSecureClient(
            True, client_address, server_address, _AUTHENTICATION[auth], password, interface
        )
        client.maxReceivePDUSize = max_pdu
        if auth == "high":
            security = _setting(settings, "security")
            if security not in _SECURITY:
                raise InvalidValue("settings.security", f"must be one of {', '.join(_SECURITY)}")
            cipher = client.ciphering
            cipher.security = _SECURITY[security]
            cipher.systemTitle = _hex(settings, "system_title", (8,))
            cipher.authenticationKey = _hex(settings, "authentication_key", (16,))
            cipher.blockCipherKey = _hex(settings, "block_cipher_key", (16,))
            cipher.invocationCounter = _int(settings, "invocation_counter", 0, 0xFFFFFFFF)
        self.client = client
        self.firmware_timeout = float(_int(settings, "firmware_timeout", 1, 86_400))
        self.image_transfer = _obis(_setting(settings, "image_transfer"), "image_transfer")
        self.profiles = {
            key: _obis(_setting(settings, key), key)
            for key in ("load_profile", "event_log", "daily_profile", "monthly_profile")
        }
        self.instantaneous = [
            _obis(code.strip(), "instantaneous")
            for code in _setting(settings, "instantaneous").split(",")
            if code.strip()
        ]
        # HDLC: gurux's default information field is 128 bytes; ciphered PDUs come segmented.
        limit = max_pdu + 64 if framing == "wrapper" else 2050
        self.link = FrameLink(medium, framing, self.timeout, limit, self.trace)
        self._classes: dict[str, int] = dict(_KNOWN_CLASSES)
        self._object_list: list[tuple[int, str, int]] | None = None
        self._scalers: dict[str, tuple[int, str | None]] = {}
        self._profiles: dict[str, GXDLMSProfileGeneric] = {}
        self._associated = False
        self._broken = False
        self._closed = False

    # -- session state ----------------------------------------------------------------------------

    @property
    def state(self) -> dict[str, str]:
        """Settings to store back after the session: the next HLS invocation counter."""
        if self.authentication != "high":
            return {}
        return {"invocation_counter": str(self.client.ciphering.invocationCounter)}

    # -- exchanging frames ---------------------------------------------------------------

    def _request(self, frames: Any, note: str) -> GXReplyData:
        """Send a request (one frame or a list) and collect the whole answer."""
        if self._closed:
            raise LinkLost("the DLMS session is closed")
        if isinstance(frames, bytes | bytearray):
            frames = [frames]
        self.trace.note(note)
        reply = GXReplyData()
        try:
            for frame in frames:
                reply = GXReplyData()
                self.link.send(bytes(frame))
                while True:
                    self._answer(reply)
                    if reply.isMoreData():
                        self.link.send(bytes(self.client.receiverReady(reply)))
                        continue
                    break
        except (LinkLost, ProtocolError):
            # The session's state (HDLC sequence numbers, blocks) is unknown now: close()
            # must not wait for answers to a release the meter may never give.
            self._broken = True
            raise
        return reply

    def _answer(self, reply: GXReplyData) -> bytes:
        """Read frames until gurux has a complete answer; classify what it cannot parse."""
        while True:
            frame = self.link.receive()
            notify = GXReplyData()
            try:
                done = self.client.getData(GXByteBuffer(bytearray(frame)), reply, notify)
            except (GXDLMSConfirmedServiceError, GXDLMSExceptionResponse) as exc:
                self.trace.note(f"service error: {exc}")
                raise DeviceError(f"the meter refused the request: {exc}", frame=frame) from exc
            except GXDLMSException as exc:
                raise self._refused(exc, frame) from exc
            except Exception as exc:
                self.trace.note(f"cannot parse the answer: {type(exc).__name__}: {exc}")
                raise ProtocolError(
                    f"cannot parse the meter's answer: {type(exc).__name__}: {exc}", frame=frame
                ) from exc
            if done or reply.isMoreData():
                return frame
            if notify.data.size:
                continue  # a push notification between requests: not ours

    def _refused(self, exc: GXDLMSException, frame: bytes) -> DriverError:
        if getattr(exc, "result", None) is not None:
            self.trace.note(f"association rejected: {exc}")
            return AuthenticationFailed(f"the meter rejected the association: {exc}", frame=frame)
        self.trace.note(f"error answer: {exc}")
        return DeviceError(f"the meter answered with an error: {exc}", frame=frame)

    def open(self) -> None:
        """SNRM/UA (HDLC), AARQ/AARE and, for HLS, the challenge exchange."""
        client = self.client
        if self.framing == "hdlc":
            reply = self._request(client.snrmRequest(), "SNRM")
            try:
                client.parseUAResponse(reply.data)
            except Exception as exc:
                raise ProtocolError(
                    f"bad UA frame: {exc}", frame=self.trace.last_received()
                ) from exc
        try:
            reply = self._request(client.aarqRequest(), f"AARQ ({self.authentication})")
            client.parseAareResponse(reply.data)
        except DeviceError as exc:
            if self.authentication == "none":
                raise
            raise AuthenticationFailed(
                f"the meter refused the association: {exc}", frame=exc.frame
            ) from exc
        except GXDLMSException as exc:
            raise self._refused(exc, self.trace.last_received() or b"") from exc
        except DriverError:
            raise
        except Exception as exc:
            raise ProtocolError(f"bad AARE: {exc}", frame=self.trace.last_received()) from exc
        if client.isAuthenticationRequired:
            try:
                reply = self._request(client.getApplicationAssociationRequest(), "HLS pass 3")
                client.parseApplicationAssociationResponse(reply.data)
            except (DeviceError, ProtocolError) as exc:
                raise AuthenticationFailed(
                    f"HLS authentication failed: {exc}", frame=exc.frame
                ) from exc
            except DriverError:
                raise
            except Exception as exc:
                self.trace.note(f"HLS pass 4 failed: {exc}")
                raise AuthenticationFailed(
                    f"HLS authentication failed: {exc}", frame=self.trace.last_received()
                ) from exc
        self._associated = True
        self.trace.note("associated")

    # -- reading attributes -------------------------------------------------------------

    def _get(self, obj: GXDLMSObject, attribute: int, *, raw: bool = False) -> tuple[Any, Quality]:
        """Read one attribute; a refused value gives its quality, not an exception.

        ``raw`` returns the value as sent: gurux's ``updateValue`` multiplies a register's
        value by its scaler, while a reading keeps the raw value and the exponent apart.
        """
        note = f"GET {obis_text(obj.logicalName)} class {int(obj.objectType)} attr {attribute}"
        reply = self._request(self.client.read(obj, attribute), note)
        if reply.error:
            quality = _ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
            self.trace.note(f"data-access-result {int(reply.error)} → {quality.value}")
            return None, quality
        if raw:
            return reply.value, Quality.VALID
        try:
            value = self.client.updateValue(obj, attribute, reply.value)
        except Exception as exc:
            self.trace.note(f"cannot decode attribute {attribute}: {exc}")
            return None, Quality.INVALID
        return value, Quality.VALID

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
            return Reading(obis, _number(value), unit, scaler, stamp, quality)
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
            return Reading(obis, _number(value), unit, scaler, stamp, quality)
        if class_id == ObjectType.DISCONNECT_CONTROL:
            value, quality = self._get(GXDLMSDisconnectControl(ln), 2)
            return Reading(obis, None if value is None else int(bool(value)), None, 0, now, quality)
        if class_id == ObjectType.DATA:
            value, quality = self._get(GXDLMSData(ln), 2)
            return Reading(obis, _plain(value), None, 0, now, quality)
        return Reading(obis, None, None, 0, now, Quality.UNSUPPORTED)

    def read_registers(self, obis_codes: Sequence[str]) -> list[Reading]:
        """Registers (classes 1, 3, 4, 5, 8, 70) with scaler and unit, in the order asked."""
        codes = [canonical_obis(code, field="obis_codes") for code in obis_codes]
        now = datetime.now(UTC)
        return [self._read_one(code, now) for code in codes]

    def read_instantaneous(self) -> list[Reading]:
        """The registers of the ``instantaneous`` setting."""
        return self.read_registers(self.instantaneous)

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

    def _set(self, obj: GXDLMSObject, attribute: int) -> Quality:
        note = f"SET {obis_text(obj.logicalName)} attr {attribute}"
        reply = self._request(self.client.write(obj, attribute), note)
        if reply.error:
            quality = _ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
            self.trace.note(f"data-access-result {int(reply.error)} → {quality.value}")
            return quality
        return Quality.VALID

    def _method(self, frames: Any, note: str) -> Quality:
        reply = self._request(frames, note)
        if reply.error:
            quality = _ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
            self.trace.note(f"action-result {int(reply.error)} → {quality.value}")
            return quality
        return Quality.VALID

    # -- profiles ----------------------------------------------------------------------------

    def _profile(self, obis: str) -> tuple[GXDLMSProfileGeneric | None, Quality]:
        if obis in self._profiles:
            return self._profiles[obis], Quality.VALID
        profile = GXDLMSProfileGeneric(logical_name(obis))
        for attribute in (3, 4):
            _, quality = self._get(profile, attribute)
            if quality is not Quality.VALID:
                return None, quality
        self._profiles[obis] = profile
        return profile, Quality.VALID

    def _columns(self, profile: GXDLMSProfileGeneric) -> list[tuple[str, int, int, str | None]]:
        """Per capture object: (OBIS, class id, scaler, unit); the clock has class 8."""
        columns = []
        for obj, _ in profile.captureObjects:
            obis = obis_text(obj.logicalName)
            class_id = int(obj.objectType)
            scaler, unit = 0, None
            if class_id in (
                ObjectType.REGISTER,
                ObjectType.EXTENDED_REGISTER,
                ObjectType.DEMAND_REGISTER,
            ):
                # A fresh object: with the scaler on the capture object itself, gurux would
                # multiply the buffer's values by it, and readings keep raw values.
                scaler, unit, _quality = self._scaler_unit(type(obj)(obj.logicalName), obis)
            columns.append((obis, class_id, scaler, unit))
        return columns

    def _rows(
        self, obis: str, frames_for: Any, note: str
    ) -> tuple[
        list[list[Any]],
        list[tuple[str, int, int, str | None]],
        GXDLMSProfileGeneric | None,
        Quality,
    ]:
        profile, quality = self._profile(obis)
        if profile is None:
            return [], [], None, quality
        columns = self._columns(profile)
        reply = self._request(frames_for(profile), note)
        if reply.error:
            return [], columns, profile, _ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
        try:
            self.client.updateValue(profile, 2, reply.value)
        except Exception as exc:
            self.trace.note(f"cannot decode the profile buffer: {exc}")
            return [], columns, profile, Quality.INVALID
        return [list(row) for row in profile.buffer], columns, profile, Quality.VALID

    def _readings(
        self, rows: Iterable[list[Any]], columns: list[tuple[str, int, int, str | None]]
    ) -> list[Reading]:
        clock = next((i for i, c in enumerate(columns) if c[1] == ObjectType.CLOCK), None)
        readings = []
        for row in rows:
            stamp = from_cosem_time(row[clock]) if clock is not None else None
            if stamp is None:
                continue
            for index, (obis, _class_id, scaler, unit) in enumerate(columns):
                if index == clock or index >= len(row):
                    continue
                value = row[index]
                if value is None:
                    readings.append(Reading(obis, None, unit, scaler, stamp, Quality.NOT_AVAILABLE))
                else:
                    readings.append(Reading(obis, _plain(value), unit, scaler, stamp))
        readings.sort(key=lambda reading: (reading.timestamp, reading.obis))
        return readings

    def read_profile(
        self, obis: str, start: datetime, end: datetime
    ) -> tuple[list[Reading], Quality]:
        """Rows of profile ``obis`` captured in ``[start, end]``, one reading per column.

        Capture objects map to readings: each captured object's OBIS is the reading's, its
        scaler and unit come from the object; the clock column is the timestamp.
        """
        code = canonical_obis(obis, field="obis")
        rows, columns, _, quality = self._rows(
            code,
            lambda profile: self.client.readRowsByRange(
                profile, to_cosem_time(start), to_cosem_time(end)
            ),
            f"GET {code} by range {start.isoformat()} .. {end.isoformat()}",
        )
        return self._readings(rows, columns), quality

    def read_profile_entries(
        self, obis: str, first: int, count: int
    ) -> tuple[list[Reading], Quality]:
        """Entries ``first`` .. ``first + count - 1`` (1 = the oldest) of profile ``obis``."""
        code = canonical_obis(obis, field="obis")
        if first < 1 or count < 1:
            raise InvalidValue("first", "entries are numbered from 1 and count is at least 1")
        rows, columns, _, quality = self._rows(
            code,
            lambda profile: self.client.readRowsByEntry(profile, first, count),
            f"GET {code} by entry {first} (+{count})",
        )
        return self._readings(rows, columns), quality

    def profile_entries(self, obis: str) -> int | None:
        """How many entries profile ``obis`` holds (attribute 7), or ``None`` if refused."""
        profile = GXDLMSProfileGeneric(logical_name(canonical_obis(obis, field="obis")))
        value, quality = self._get(profile, 7)
        return int(value) if quality is Quality.VALID and value is not None else None

    def read_load_profile(self, start: datetime, end: datetime) -> LoadProfile:
        """The ``load_profile`` for intervals ending in ``(start, end]``."""
        obis = self.profiles["load_profile"]
        readings, quality = self.read_profile(obis, start, end)
        profile = self._profiles.get(obis)
        period = int(profile.capturePeriod or 0) if profile is not None else 0
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        kept = tuple(r for r in readings if start_utc < r.timestamp <= end_utc)
        return LoadProfile(timedelta(seconds=period), kept, quality)

    def read_billing(
        self, start: datetime, end: datetime, *, monthly: bool = False
    ) -> list[Reading]:
        """Billing values of the daily (or monthly) billing profile captured in ``[start, end]``."""
        key = "monthly_profile" if monthly else "daily_profile"
        readings, quality = self.read_profile(self.profiles[key], start, end)
        if quality is not Quality.VALID:
            return [Reading(self.profiles[key], None, None, 0, start.astimezone(UTC), quality)]
        return readings

    def read_events(self, start: datetime, end: datetime) -> EventLog:
        """The ``event_log`` entries with timestamps in ``[start, end)``."""
        obis = self.profiles["event_log"]
        readings, quality = self.read_profile(obis, start, end)
        start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
        events = []
        for reading in readings:
            if not start_utc <= reading.timestamp < end_utc or not isinstance(reading.value, int):
                continue
            code = reading.value
            events.append(MeterEvent(reading.timestamp, code, obis, EVENT_TEXTS.get(code, "")))
        events.sort(key=lambda event: (event.timestamp, event.code))
        return EventLog(tuple(events), quality)

    # -- control ----------------------------------------------------------------------------

    def disconnect_supply(self) -> Quality:
        """Disconnect control (class 70) method 1, remote_disconnect."""
        control = GXDLMSDisconnectControl(logical_name(DISCONNECT_CONTROL))
        return self._method(control.remoteDisconnect(self.client), "ACTION remote_disconnect")

    def reconnect_supply(self) -> Quality:
        """Disconnect control (class 70) method 2, remote_reconnect."""
        control = GXDLMSDisconnectControl(logical_name(DISCONNECT_CONTROL))
        return self._method(control.remoteReconnect(self.client), "ACTION remote_reconnect")

    def read_load_limit(self) -> dict[str, int | None]:
        """The limiter's (class 71) thresholds: ``active``, ``normal``, ``emergency``."""
        limiter = GXDLMSLimiter(logical_name(LIMITER))
        found: dict[str, int | None] = {}
        for key, attribute in (("active", 3), ("normal", 4), ("emergency", 5)):
            value, quality = self._get(limiter, attribute, raw=True)
            found[key] = _number(value) if quality is Quality.VALID else None
        return found

    def set_load_limit(self, normal: int, emergency: int | None = None) -> Quality:
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

    # -- firmware ----------------------------------------------------------------------------

    def upgrade_firmware(self, image: bytes, version: str) -> Quality:
        """Transfer ``image`` to the image transfer object (class 18) and activate it.

        The standard sequence (IEC 62056-6-2, image transfer): read image_block_size and
        image_transfer_enabled; image_transfer_initiate with ``version`` as the image
        identifier and the image size; image_block_transfer for every block; read
        image_first_not_transferred_block_number and send again what the meter is missing;
        image_verify; image_activate; while the meter answers temporary-failure (verifying or
        activating), poll image_transfer_status up to ``firmware_timeout`` seconds.

        :returns: :attr:`Quality.VALID` when the meter activated the image; the quality of the
            refusal when the meter refused before anything started (``access_denied`` for an
            association without the rights, ``device_busy``).
        :raises UnsupportedAction: the meter has no image transfer object.
        :raises ImageTransferFailed: transfer disabled, or a step failed once the transfer
            started (refused initiate or block, blocks still missing, verification or
            activation failed or did not finish in time); ``step`` says which.
        :raises LinkLost: the line broke (a meter may restart when it activates an image).
        """
        if not isinstance(image, bytes | bytearray) or not image:
            raise InvalidValue("image", "must be non-empty bytes")
        if not isinstance(version, str) or not version.strip():
            raise InvalidValue("version", "must be a non-empty text (the image identifier)")
        code = self.image_transfer
        obj = GXDLMSImageTransfer(logical_name(code))
        block_size, quality = self._get(obj, 2, raw=True)
        if quality in (Quality.NOT_AVAILABLE, Quality.UNSUPPORTED):
            self.trace.note(f"no image transfer object {code}")
            raise self.unsupported(Action.UPGRADE_FIRMWARE)
        if quality is not Quality.VALID:
            return quality
        enabled, quality = self._get(obj, 5, raw=True)
        if quality is not Quality.VALID:
            return quality
        if not enabled:
            raise ImageTransferFailed(
                "image transfer is disabled on the meter (image_transfer_enabled is false)",
                "initiate",
            )
        size = _number(block_size)
        if not isinstance(size, int) or size < 1:
            raise ImageTransferFailed(f"the meter's image block size {block_size!r}", "initiate")
        obj.imageBlockSize = size
        try:
            initiate = obj.imageTransferInitiate(self.client, version.strip(), len(image))
        except ValueError as exc:  # block size over the PDU size
            raise ImageTransferFailed(f"cannot initiate: {exc}", "initiate") from exc
        quality = self._method(initiate, f"ACTION image_transfer_initiate {version.strip()!r}")
        if quality is Quality.ACCESS_DENIED or quality is Quality.DEVICE_BUSY:
            return quality
        if quality is not Quality.VALID:
            raise ImageTransferFailed(f"the meter refused the transfer ({quality})", "initiate")
        blocks = obj.imageBlockTransfer(self.client, bytes(image), None)
        self.trace.note(f"image of {len(image)} bytes in {len(blocks)} blocks of {size}")
        for number, frames in enumerate(blocks):
            self._send_block(frames, number)
        self._complete(obj, blocks)
        self._finish_step(obj.imageVerify(self.client), obj, "verify")
        self._finish_step(obj.imageActivate(self.client), obj, "activate")
        self.trace.note(f"image {version.strip()!r} activated")
        return Quality.VALID

    def _send_block(self, frames: Any, number: int) -> None:
        quality = self._method(frames, f"ACTION image_block_transfer {number}")
        if quality is not Quality.VALID:
            raise ImageTransferFailed(f"the meter refused block {number} ({quality})", "transfer")

    def _complete(self, obj: GXDLMSImageTransfer, blocks: list[Any]) -> None:
        """Send again the blocks the meter reports missing (attribute 4), a few times each."""
        sent: dict[int, int] = {}
        while True:
            first, quality = self._get(obj, 4, raw=True)
            missing = _number(first)
            if quality is not Quality.VALID or not isinstance(missing, int):
                self.trace.note("image_first_not_transferred_block_number not readable")
                return
            if missing >= len(blocks):
                return
            sent[missing] = sent.get(missing, 0) + 1
            if sent[missing] > _BLOCK_RETRIES:
                raise ImageTransferFailed(
                    f"the meter still misses block {missing} after {_BLOCK_RETRIES} resends",
                    "transfer",
                )
            self.trace.note(f"the meter misses block {missing}: sending it again")
            self._send_block(blocks[missing], missing)

    def _status(self, obj: GXDLMSImageTransfer) -> int | None:
        value, quality = self._get(obj, 6, raw=True)
        number = _number(value)
        return number if quality is Quality.VALID and isinstance(number, int) else None

    def _finish_step(self, frames: Any, obj: GXDLMSImageTransfer, step: str) -> None:
        """Verify or activate: done when the method succeeds; polled while it is busy."""
        if step == "verify":
            done = ImageTransferStatus.IMAGE_VERIFICATION_SUCCESSFUL
            failed = ImageTransferStatus.IMAGE_VERIFICATION_FAILED
        else:
            done = ImageTransferStatus.IMAGE_ACTIVATION_SUCCESSFUL
            failed = ImageTransferStatus.IMAGE_ACTIVATION_FAILED
        quality = self._method(frames, f"ACTION image_{step}")
        if quality is Quality.VALID:
            return
        if quality is not Quality.DEVICE_BUSY:
            status = self._status(obj)
            raise ImageTransferFailed(
                f"image {step} failed ({quality}, image_transfer_status {status})", step, status
            )
        deadline = time.monotonic() + self.firmware_timeout
        pause = 0.1
        status = None
        while time.monotonic() < deadline:
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, 2.0)
            status = self._status(obj)
            if status == done:
                return
            if status == failed:
                raise ImageTransferFailed(
                    f"image {step} failed (image_transfer_status {status})", step, status
                )
        raise ImageTransferFailed(
            f"image {step} did not finish within {self.firmware_timeout:g} s "
            f"(image_transfer_status {status})",
            step,
            status,
        )

    # -- session -------------------------------------------------------------------------------

    def close(self) -> None:
        """Release the association (and disconnect HDLC); never raises."""
        if self._closed:
            return
        try:
            if self._broken:
                self.trace.note("session broken: closing the line without a release")
            elif self._associated:
                self._associated = False
                try:
                    self._request(self.client.releaseRequest(), "RLRQ")
                except Exception as exc:
                    self.trace.note(f"release failed: {exc}")
            if self.framing == "hdlc" and not self._broken:
                try:
                    self._request(self.client.disconnectRequest(), "DISC")
                except Exception as exc:
                    self.trace.note(f"disconnect failed: {exc}")
        finally:
            self._closed = True
            if self._own_medium:
                self.medium.close()


def _number(value: Any) -> int | float | None:
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, int | float):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _plain(value: Any) -> int | float | str | datetime | None:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int | float | str) or value is None:
        return value
    if isinstance(value, bytes | bytearray):
        text = bytes(value)
        if text and all(32 <= byte < 127 for byte in text):
            return text.decode("ascii")
        return text.hex().upper()
    moment = from_cosem_time(value)
    if moment is not None:
        return moment
    try:
        return int(value)
    except (TypeError, ValueError):
        return str(value)


# -- activity calendar as JSON ----------------------------------------------------------------

_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


def calendar_from_json(calendar: Mapping[str, Any]) -> GXDLMSActivityCalendar:
    """The passive calendar of a ``GXDLMSActivityCalendar`` from plain JSON::

        {"name": "TOU-2026",
         "seasons": [{"name": "winter", "start": "01-01", "week": "wk1"}, ...],
         "weeks": [{"name": "wk1", "days": [1, 1, 1, 1, 1, 2, 2]}],
         "days": [{"id": 1, "actions": [{"start": "06:00", "script": "0-0:10.0.100",
                                          "selector": 1}, ...]}, ...],
         "activate_at": "2026-12-01T00:00:00+00:00"}      (optional)

    Season starts are ``MM-DD`` (every year); week days list the day ids Monday first;
    actions run the script table ``script`` with ``selector`` (the tariff number) from
    ``start`` (``HH:MM``) on.
    """
    try:
        obj = GXDLMSActivityCalendar(logical_name(ACTIVITY_CALENDAR))
        obj.calendarNamePassive = str(calendar["name"])
        seasons = []
        for season in calendar["seasons"]:
            month, day = (int(part) for part in str(season["start"]).split("-"))
            start = GXDateTimeYearless.make(month, day)
            seasons.append(
                GXDLMSSeasonProfile(
                    str(season["name"]).encode(), start, str(season["week"]).encode()
                )
            )
        obj.seasonProfilePassive = seasons
        weeks = []
        for week in calendar["weeks"]:
            profile = GXDLMSWeekProfile()
            profile.name = str(week["name"]).encode()
            days = [int(day) for day in week["days"]]
            if len(days) != 7:
                raise ValueError("a week has 7 days")
            for attribute, day in zip(_WEEKDAYS, days, strict=True):
                setattr(profile, attribute, day)
            weeks.append(profile)
        obj.weekProfileTablePassive = weeks
        days_out = []
        for day in calendar["days"]:
            actions = []
            for action in day["actions"]:
                hour, minute = (int(part) for part in str(action["start"]).split(":"))
                actions.append(
                    GXDLMSDayProfileAction(
                        GXTimeOfDay.make(hour, minute),
                        logical_name(str(action["script"])),
                        int(action.get("selector", 1)),
                    )
                )
            days_out.append(GXDLMSDayProfile(int(day["id"]), actions))
        obj.dayProfileTablePassive = days_out
    except (KeyError, TypeError, ValueError) as exc:
        raise InvalidValue("calendar", f"is not a valid TOU calendar: {exc}") from exc
    return obj


def calendar_to_json(obj: GXDLMSActivityCalendar, *, passive: bool = False) -> dict[str, Any]:
    """The calendar of ``obj`` (active or passive) as the JSON :func:`calendar_from_json` takes."""
    name = obj.calendarNamePassive if passive else obj.calendarNameActive
    seasons = obj.seasonProfilePassive if passive else obj.seasonProfileActive
    weeks = obj.weekProfileTablePassive if passive else obj.weekProfileTableActive
    days = obj.dayProfileTablePassive if passive else obj.dayProfileTableActive
    return {
        "name": _text(name),
        "seasons": [
            {
                "name": _text(season.name),
                "start": f"{season.start.value.month:02d}-{season.start.value.day:02d}",
                "week": _text(season.weekName),
            }
            for season in seasons or []
        ],
        "weeks": [
            {"name": _text(week.name), "days": [int(getattr(week, day)) for day in _WEEKDAYS]}
            for week in weeks or []
        ],
        "days": [
            {
                "id": int(day.dayId),
                "actions": [
                    {
                        "start": f"{action.startTime.value.hour:02d}:"
                        f"{action.startTime.value.minute:02d}",
                        "script": canonical_obis(obis_text(action.scriptLogicalName)),
                        "selector": int(action.scriptSelector),
                    }
                    for action in day.daySchedules or []
                ],
            }
            for day in days or []
        ],
    }


def _text(value: Any) -> str:
    if isinstance(value, bytes | bytearray):
        return bytes(value).decode("utf-8", "replace")
    return "" if value is None else str(value)


class GXDateTimeYearless:
    """Season starts: a COSEM date-time with the year (and time) not specified."""

    @staticmethod
    def make(month: int, day: int) -> Any:
        """A ``GXDateTime`` for ``month``-``day`` of any year at 00:00."""
        from gurux_dlms import GXDateTime
        from gurux_dlms.enums import DateTimeSkips

        value = GXDateTime(datetime(2000, month, day, tzinfo=UTC))
        value.skip = DateTimeSkips.YEAR | DateTimeSkips.DAY_OF_WEEK | DateTimeSkips.DEVITATION
        return value


class GXTimeOfDay:
    """Day profile action starts: a COSEM time."""

    @staticmethod
    def make(hour: int, minute: int) -> Any:
        """A ``GXTime`` for ``hour``:``minute``:00."""
        from gurux_dlms import GXTime

        return GXTime(datetime(2000, 1, 1, hour, minute, tzinfo=UTC))
