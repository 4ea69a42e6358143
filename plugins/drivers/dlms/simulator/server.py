"""The server of one connection: gurux's patched server answering one meter, with faults."""

from __future__ import annotations

import time
from typing import Any

from gurux_dlms.enums import (
    Authentication,
    InterfaceType,
)
from gurux_dlms.enums.AccessMode import AccessMode
from gurux_dlms.enums.MethodAccessMode import MethodAccessMode
from gurux_dlms.enums.Security import Security
from gurux_dlms.enums.SourceDiagnostic import SourceDiagnostic

from meterhub.plugins.drivers.dlms.addressing import address_bytes, server_address
from meterhub.plugins.drivers.dlms.gurux_compat import CompatServer
from meterhub.plugins.drivers.dlms.simulator.catalog import build_objects
from meterhub.plugins.drivers.dlms.simulator.state import (
    _AUTH_LEVELS,
    _DENIED,
    _METHODS,
    _PUBLIC,
    _WRITABLE,
    CLIENT_MANAGEMENT,
    CLIENT_PUBLIC,
    MeterState,
)


def _glo_invocation_counter(apdu: bytes) -> int | None:
    """The invocation counter of a ciphered AARQ (its glo-initiate-request), if any."""
    at = apdu.find(b"\xbe")
    while at >= 0:
        # user-information: BE len 04 len 21 len SC IC(4)
        if apdu[at + 2 : at + 3] == b"\x04" and apdu[at + 4 : at + 5] == b"\x21":
            start = at + 7
            if len(apdu) >= start + 4:
                return int.from_bytes(apdu[start : start + 4], "big")
        at = apdu.find(b"\xbe", at + 1)
    return None


def _starts_aarq(data: bytes) -> bool:
    """Whether ``data`` is a wrapper frame or an HDLC frame whose APDU starts an AARQ."""
    if data[:2] == b"\x00\x01" and len(data) > 8:
        return data[8] == 0x60
    return b"\xe6\xe6\x00\x60" in data[:16]


class _MeterServer(CompatServer):
    """One association's server: the meter's rules for addresses, authentication and access."""

    def __init__(self, state: MeterState, interface_type: InterfaceType) -> None:
        self.state = state
        secrets = state.secrets
        super().__init__(
            interface_type,
            bytes.fromhex(secrets["server_system_title"]),
            short_names=state.referencing == "sn",
        )
        self._level = _AUTH_LEVELS[state.authentication]
        self._client = 0
        self._replayed = False
        #: Whether the last AARQ was ciphered (glo-initiate-request).
        self._ciphered_aarq = False
        cipher = self.settings.cipher
        key = bytes.fromhex(secrets["authentication_key"])
        if state.faults.wrong_password:
            key = bytes(reversed(key))
        cipher.authenticationKey = bytearray(key)
        cipher.blockCipherKey = bytearray(bytes.fromhex(secrets["block_cipher_key"]))
        cipher.security = Security.NONE
        cipher.securitySuite = state.security_suite
        # The HLS secret of mechanisms 2, 3, 4 and 6 (the association's attribute 7).
        hls_secret = secrets["hls_secret"].encode()
        if state.faults.wrong_password:
            hls_secret = bytes(reversed(hls_secret))
        self.association.secret = bytearray(hls_secret)
        if interface_type == InterfaceType.HDLC:
            self._address, size = server_address(
                state.logical_address, state.physical_address, state.address_size
            )
            self.settings.serverAddressSize = size  # answers carry the same address form
        else:
            self._address = state.logical_address
        self.add_objects(build_objects(state))

    def reply(self, data: bytes, connection_info: Any = None) -> bytes | None:
        """Check the invocation counter of a ciphered AARQ, then let gurux answer."""
        counter = _glo_invocation_counter(data) if b"\x60" in data[:24] else None
        if _starts_aarq(data):
            self._ciphered_aarq = counter is not None
        if counter is not None:
            with self.state.lock:
                self._replayed = counter <= self.state.invocation_counter
                if not self._replayed:
                    self.state.invocation_counter = counter
        return super().reply(data, connection_info)

    # -- GXDLMSServer callbacks (gurux's names) -------------------------------------------------

    def isTarget(self, serverAddress: int, clientAddress: int) -> bool:
        self._client = clientAddress
        return serverAddress == self._address and clientAddress in (
            CLIENT_MANAGEMENT,
            CLIENT_PUBLIC,
        )

    def onValidateAuthentication(self, authentication: int, password: Any) -> int:
        if self._client == CLIENT_PUBLIC:
            ok = authentication == Authentication.NONE
        elif self.state.security != "none" and not self._ciphered_aarq:
            ok = False  # the meter's policy wants ciphered APDUs
        elif authentication != self._level:
            ok = False
        elif authentication == Authentication.LOW:
            expected = self.state.secrets["password"].encode()
            if self.state.faults.wrong_password:
                expected += b"!"
            ok = bytes(password or b"") == expected
        elif authentication == Authentication.HIGH_GMAC:
            ok = not self._replayed
        else:
            # HLS 2, 3, 4, 6: the client proves the secret in pass 3 (the association's
            # reply_to_HLS_authentication); a ciphered AARQ must not be a replay.
            ok = not self._replayed
        if ok:
            return SourceDiagnostic.NONE
        return SourceDiagnostic.AUTHENTICATION_FAILURE

    def onGetAttributeAccess(self, arg: Any) -> int:
        ln = arg.target.logicalName
        if ln == _DENIED:
            return AccessMode.NO_ACCESS
        if self._client == CLIENT_PUBLIC and ln not in _PUBLIC:
            return AccessMode.NO_ACCESS
        if self._client != CLIENT_PUBLIC and arg.index in _WRITABLE.get(ln, ()):
            return AccessMode.READ_WRITE
        return AccessMode.READ

    def onGetMethodAccess(self, arg: Any) -> int:
        ln = arg.target.logicalName
        if ln == "0.0.40.0.0.255" and arg.index == (8 if self.short_names else 1):
            return MethodAccessMode.ACCESS  # reply_to_HLS_authentication
        if self._client != CLIENT_PUBLIC and arg.index in _METHODS.get(ln, ()):
            return MethodAccessMode.ACCESS
        return MethodAccessMode.NO_ACCESS

    def onFindObject(self, objectType: Any, sn: int, ln: str) -> None:
        return None

    def onPreGet(self, args: Any) -> None:
        pass

    def onPostGet(self, args: Any) -> None:
        pass

    def onPreRead(self, args: Any) -> None:
        pass

    def onPreWrite(self, args: Any) -> None:
        pass

    def onPostWrite(self, args: Any) -> None:
        pass

    def onPreAction(self, args: Any) -> None:
        pass

    def onPostAction(self, args: Any) -> None:
        pass

    def onConnected(self, connectionInfo: Any) -> None:
        pass

    def onInvalidConnection(self, connectionInfo: Any) -> None:
        pass

    def onDisconnected(self, connectionInfo: Any) -> None:
        pass


class _Session:
    """Feeds received bytes to a server and applies the faults to its replies."""

    def __init__(self, state: MeterState, interface_type: InterfaceType) -> None:
        self.state = state
        self.faults = state.faults
        self.interface_type = interface_type
        self.server = _MeterServer(state, interface_type)
        self.replies = 0
        #: HDLC: the destination address field of frames for this meter, byte for byte.
        self.address = (
            address_bytes(state.logical_address, state.physical_address, state.address_size)
            if interface_type == InterfaceType.HDLC
            else b""
        )

    def addressed_to_me(self, data: bytes) -> bool:
        """HDLC: whether a frame's destination address is this meter's, in the same form.

        A meter on a bus stays silent for frames to other stations; an address of another
        size (one byte instead of two) is another station too. Fragments (a frame arriving
        in pieces) are let through.
        """
        if not self.address or len(data) < 3 or data[0] != 0x7E:
            return True
        field = bytearray()
        for byte in data[3:]:
            field.append(byte)
            if byte & 1:
                break
        if not field or not field[-1] & 1:
            return True  # cut short: gurux waits for the rest
        return bytes(field) == self.address

    def handle(self, data: bytes) -> tuple[bytes | None, bool]:
        """Return (reply to send or ``None``, whether to drop the line afterwards)."""
        faults = self.faults
        if faults.silent_after is not None and self.replies >= faults.silent_after:
            return None, False
        if not self.addressed_to_me(data):
            return None, False
        answer = self.server.reply(data)
        if answer is None:
            return None, False
        self.replies += 1
        if faults.latency:
            time.sleep(faults.latency)
        if faults.corrupt_every and self.replies % faults.corrupt_every == 0:
            answer = self._corrupt(answer)
        drop = faults.drop_after is not None and self.replies >= faults.drop_after
        return answer, drop

    def _corrupt(self, frame: bytes) -> bytes:
        damaged = bytearray(frame)
        if self.interface_type == InterfaceType.WRAPPER:
            damaged[1] ^= 0x5A  # the wrapper version: no checksum would catch a payload flip
        else:
            damaged[len(damaged) // 2] ^= 0x5A  # the FCS catches it
        return bytes(damaged)
