"""A DLMS/COSEM session: gurux-dlms' client over a :class:`~.link.FrameLink`, errors classified.

:class:`DlmsSession` builds the gurux client from :class:`~.settings.DlmsSettings`, associates
(SNRM/UA for HDLC, AARQ/AARE, the HLS challenge), reads, writes and invokes attributes with a
quality per value, and releases the association on :meth:`DlmsSession.close`. The reading and
control modules of this package add their actions on top of it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from types import MappingProxyType
from typing import Any

from gurux_dlms import GXByteBuffer, GXDLMSException, GXReplyData
from gurux_dlms.enums import InterfaceType, Security
from gurux_dlms.GXDLMSClient import GXDLMSClient
from gurux_dlms.GXDLMSConfirmedServiceError import GXDLMSConfirmedServiceError
from gurux_dlms.GXDLMSExceptionResponse import GXDLMSExceptionResponse
from gurux_dlms.objects.GXDLMSObject import GXDLMSObject
from gurux_dlms.secure import GXDLMSSecureClient

from meterhub.extensions.driver import (
    AuthenticationFailed,
    DeviceError,
    DriverConnection,
    DriverError,
    LinkLost,
    ProtocolError,
    Quality,
)
from meterhub.extensions.medium import Medium
from meterhub.extensions.trace import FrameTrace
from meterhub.plugins.drivers.dlms import gurux_compat
from meterhub.plugins.drivers.dlms.classes import ClassDirectory
from meterhub.plugins.drivers.dlms.cosem import from_cosem_time, obis_text
from meterhub.plugins.drivers.dlms.link import FrameLink
from meterhub.plugins.drivers.dlms.mechanisms import HLS, MECHANISMS, PASSWORD_MECHANISMS
from meterhub.plugins.drivers.dlms.settings import DlmsSettings

__all__ = ["ACCESS_RESULT", "DlmsSession", "number", "plain"]

_SECURITY = {
    "none": Security.NONE,
    "authentication": Security.AUTHENTICATION,
    "encryption": Security.ENCRYPTION,
    "authentication_encryption": Security.AUTHENTICATION_ENCRYPTION,
}
#: AARE diagnostic "application-context-name not supported" (gurux: ``NOT_SUPPORTED``).
_CONTEXT_NOT_SUPPORTED = 2
#: The settings that are credentials (all masked in the trace).
_SECRET_NAMES = tuple(DlmsSettings.secrets())
#: Shorter secrets are masked only at their known place (the AARQ), not anywhere in a frame.
_MIN_ANYWHERE = 4
#: Data-access-result codes (IEC 62056-5-3) → the quality of the value.
ACCESS_RESULT = {
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


class DlmsSession(DriverConnection):
    """An association with one meter: frames, GET/SET/ACTION, release (:mod:`.association`
    opens it)."""

    driver_name = "dlms"

    def __init__(
        self,
        address: str,
        settings: DlmsSettings,
        medium: Medium,
        *,
        own_medium: bool = False,
        serial: bool = False,
    ) -> None:
        gurux_compat.install()  # silences gurux's prints (defect 14) on the client side too
        self.address = address
        self.settings = settings
        self.medium = medium
        self._own_medium = own_medium
        if medium.trace is None:
            medium.trace = FrameTrace()
        #: The session's frames (the medium records tx/rx, the driver adds notes).
        self.trace: FrameTrace = medium.trace
        for name in _SECRET_NAMES:
            value = getattr(settings, name)
            # Every credential is masked wherever it would appear (see .masking); a password
            # shorter than 4 bytes only where it is known to be (the AARQ), or every "1" in
            # every frame would be masked too.
            if value and len(value) >= _MIN_ANYWHERE:
                self.trace.add_secret(value)
        self.framing = settings.framing or ("hdlc" if serial else "wrapper")
        #: Short name referencing: objects are addressed by base names (:meth:`_addressed`).
        self.short_names = settings.referencing == "sn"
        #: The mechanism's canonical name (``none``, ``low``, ``md5`` ... see :mod:`.mechanisms`).
        self.authentication = settings.mechanism
        self.timeout = settings.timeout
        self.client = self.new_client(
            settings.client_address, self.authentication, settings.invocation_counter
        )
        # HDLC: gurux's default information field is 128 bytes; ciphered PDUs come segmented.
        limit = settings.max_pdu + 64 if self.framing == "wrapper" else 2050
        self.link = FrameLink(medium, self.framing, self.timeout, limit, self.trace)
        self._associated = False
        self._broken = False
        self._closed = False
        #: Where interface classes come from (request, settings, object list, conventions).
        self.directory = ClassDirectory(
            settings.class_map, settings.kept_object_list, settings.short_name_map
        )
        #: Whether this session read the object list (then ``state`` hands it back), and
        #: whether it tried (the list is read at most once per session).
        self._object_list_read = False
        self._object_list_tried = False
        #: Caches of this session: scaler/unit and profile layout per OBIS.
        self._scalers: dict[str, tuple[int, str | None]] = {}
        self._profiles: dict[str, Any] = {}
        #: The data-access-result of the last refused GET (``None`` after a valid one).
        self.last_access_result: int | None = None

    def new_client(
        self, client_address: int, authentication: str, invocation_counter: int = 0
    ) -> GXDLMSClient:
        """A gurux client for this meter's address and framing.

        ``authentication`` is a mechanism name (:mod:`.mechanisms`); ``none`` makes a client
        without security (the public client), any other one gets the session's secrets and,
        when the association is ciphered, its keys, security and ``invocation_counter``.
        """
        settings = self.settings
        if self.framing == "hdlc":
            server_address, size = settings.server_address
            interface = InterfaceType.HDLC
        else:
            server_address, size = settings.logical_address, 0
            interface = InterfaceType.WRAPPER
        password = settings.password if authentication in PASSWORD_MECHANISMS else None
        secure = authentication != "none" and (
            authentication in HLS or settings.ciphered
        )  # HLS needs gurux's cipher object even unciphered (pass 3 counts with it)
        client_class = GXDLMSSecureClient if secure else GXDLMSClient
        client = client_class(
            not self.short_names,
            client_address,
            server_address,
            MECHANISMS[authentication],
            password,
            interface,
        )
        if size:
            client.serverAddressSize = size
        client.maxReceivePDUSize = settings.max_pdu
        if secure:
            cipher = client.ciphering
            ciphered = settings.ciphered
            cipher.security = _SECURITY[settings.effective_security if ciphered else "none"]
            cipher.securitySuite = settings.security_suite
            cipher.systemTitle = bytearray(settings.system_title or b"")
            cipher.authenticationKey = bytearray(settings.authentication_key or b"")
            cipher.blockCipherKey = bytearray(settings.block_cipher_key or b"")
            cipher.invocationCounter = invocation_counter
        return client

    @property
    def counts_invocations(self) -> bool:
        """Whether the session's association uses an invocation counter (GMAC or ciphering)."""
        return self.authentication != "none" and self.settings.ciphered

    # -- session state ----------------------------------------------------------------------------

    @property
    def state(self) -> Mapping[str, str]:
        """Settings to store back after the session (read after :meth:`close` too).

        ``invocation_counter``: the next HLS frame counter; ``object_list``: the meter's
        object list with its read time, when this session read it (see :mod:`.classes`).
        """
        found: dict[str, str] = {}
        if self.counts_invocations:
            found["invocation_counter"] = str(self.client.ciphering.invocationCounter)
        if self._object_list_read and self.directory.object_list is not None:
            found["object_list"] = self.directory.object_list.text()
        return MappingProxyType(found)

    # -- exchanging frames ---------------------------------------------------------------

    def _request(
        self,
        frames: Any,
        note: str,
        *,
        client: GXDLMSClient | None = None,
        masks: Sequence[Sequence[tuple[int, int]]] = (),
    ) -> GXReplyData:
        """Send a request (one frame or a list) and collect the whole answer.

        ``masks`` holds, per frame, the byte spans the trace must mask (see :mod:`.masking`).
        """
        if self._closed:
            raise LinkLost("the DLMS session is closed")
        if isinstance(frames, bytes | bytearray):
            frames = [frames]
        client = client or self.client
        self.trace.note(note)
        reply: GXReplyData | None = None
        try:
            for index, frame in enumerate(frames):
                reply = GXReplyData()
                if index < len(masks) and masks[index]:
                    self.trace.mask_next(masks[index])
                self.link.send(bytes(frame))
                while True:
                    self._answer(reply, client)
                    if reply.isMoreData():
                        self.link.send(bytes(gurux_compat.next_block_request(client, reply)))
                        continue
                    break
        except (LinkLost, ProtocolError):
            # The session's state (HDLC sequence numbers, blocks) is unknown now: close()
            # must not wait for answers to a release the meter may never give.
            self._broken = True
            raise
        if reply is None:
            raise ProtocolError(f"{note}: nothing to send")
        return reply

    def _answer(self, reply: GXReplyData, client: GXDLMSClient) -> bytes:
        """Read frames until gurux has a complete answer; classify what it cannot parse."""
        while True:
            frame = self.link.receive()
            notify = GXReplyData()
            try:
                done = client.getData(GXByteBuffer(bytearray(frame)), reply, notify)
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
            hint = ""
            if getattr(exc, "diagnostic", None) == _CONTEXT_NOT_SUPPORTED:
                other = "ln" if self.short_names else "sn"
                hint = (
                    f" (the meter may speak the other referencing, referencing={other}, "
                    "or want ciphered APDUs)"
                )
            return AuthenticationFailed(
                f"the meter rejected the association: {exc}{hint}", frame=frame
            )
        self.trace.note(f"error answer: {exc}")
        return DeviceError(f"the meter answered with an error: {exc}", frame=frame)

    def open(self) -> None:
        """Associate (implemented by :class:`~.association.Association`)."""
        raise NotImplementedError

    # -- addressing objects ---------------------------------------------------------------

    def _addressed(self, obj: GXDLMSObject, client: GXDLMSClient | None = None) -> bool:
        """Whether requests can name ``obj``: always with logical names; with short names when
        its base name is known (the ``short_names`` setting or the object list, read once on
        demand), which is then set on ``obj``."""
        if not self.short_names or obj.shortName:
            return True
        obis = obis_text(obj.logicalName)
        base_name = self.directory.base_name(obis)
        if base_name is None and self._object_list_on_demand(f"no base name for {obis}", client):
            base_name = self.directory.base_name(obis)
        if base_name is None:
            self.trace.note(f"{obis}: no base name known (short_names or the object list)")
            return False
        obj.shortName = base_name
        return True

    def _object_list_on_demand(self, why: str, client: GXDLMSClient | None = None) -> bool:
        """Read the object list once in a session (implemented by the register reading)."""
        return False

    # -- reading attributes -------------------------------------------------------------

    def _get(
        self,
        obj: GXDLMSObject,
        attribute: int,
        *,
        raw: bool = False,
        client: GXDLMSClient | None = None,
    ) -> tuple[Any, Quality]:
        """Read one attribute; a refused value gives its quality, not an exception.

        ``raw`` returns the value as sent: gurux's ``updateValue`` multiplies a register's
        value by its scaler, while a reading keeps the raw value and the exponent apart.
        """
        client = client or self.client
        if not self._addressed(obj, client):
            self.last_access_result = 4
            return None, Quality.NOT_AVAILABLE
        note = f"GET {obis_text(obj.logicalName)} class {int(obj.objectType)} attr {attribute}"
        reply = self._request(client.read(obj, attribute), note, client=client)
        if reply.error:
            self.last_access_result = int(reply.error)
            quality = ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
            self.trace.note(f"data-access-result {int(reply.error)} → {quality.value}")
            return None, quality
        self.last_access_result = None
        if raw:
            return reply.value, Quality.VALID
        try:
            value = client.updateValue(obj, attribute, reply.value)
        except Exception as exc:
            self.trace.note(f"cannot decode attribute {attribute}: {exc}")
            return None, Quality.INVALID
        return value, Quality.VALID

    def _set(self, obj: GXDLMSObject, attribute: int) -> Quality:
        if not self._addressed(obj):
            return Quality.NOT_AVAILABLE
        note = f"SET {obis_text(obj.logicalName)} attr {attribute}"
        reply = self._request(self.client.write(obj, attribute), note)
        if reply.error:
            quality = ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
            self.trace.note(f"data-access-result {int(reply.error)} → {quality.value}")
            return quality
        return Quality.VALID

    def _method(self, frames: Any, note: str) -> Quality:
        reply = self._request(frames, note)
        if reply.error:
            quality = ACCESS_RESULT.get(int(reply.error), Quality.UNKNOWN_ERROR)
            self.trace.note(f"action-result {int(reply.error)} → {quality.value}")
            return quality
        return Quality.VALID

    # -- session -------------------------------------------------------------------------------

    def release(self, client: GXDLMSClient) -> None:
        """Release ``client``'s association (RLRQ) and, on HDLC, disconnect (DISC); never
        raises."""
        if self._broken:
            return
        try:
            frames = client.releaseRequest()
            if frames:
                self._request(frames, "RLRQ", client=client)
        except Exception as exc:
            self.trace.note(f"release failed: {exc}")
        if self.framing == "hdlc" and not self._broken:
            try:
                frames = client.disconnectRequest()
                if frames:
                    self._request(frames, "DISC", client=client)
            except Exception as exc:
                self.trace.note(f"disconnect failed: {exc}")

    def close(self) -> None:
        """Release the association (and disconnect HDLC); never raises."""
        if self._closed:
            return
        try:
            if self._broken:
                self.trace.note("session broken: closing the line without a release")
            elif self._associated or self.framing == "hdlc":
                self._associated = False
                self.release(self.client)
        finally:
            self._closed = True
            if self._own_medium:
                self.medium.close()


def number(value: Any) -> int | float | None:
    """A decoded DLMS value as a number (``None`` when it is none)."""
    if value is None or isinstance(value, bool):
        return None if value is None else int(value)
    if isinstance(value, int | float):
        return value
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def plain(value: Any) -> int | float | str | datetime | None:
    """A decoded DLMS value as plain data: number, text (printable octets), hex, or time."""
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
