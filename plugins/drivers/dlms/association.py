"""Opening an association: SNRM/UA (HDLC), AARQ/AARE, HLS pass 3/4, counter resynchronisation.

:meth:`Association.open` associates the session's client. Secrets stay out of the trace (see
:mod:`.masking`): the AARQ's calling-authentication-value and an unciphered HLS pass 3 answer
are masked in the frames that carry them. The AARE is checked by :func:`.aare.check_aare`
before gurux parses it, so a malformed one is a :class:`ProtocolError` that says what is wrong.

**Invocation counter (HLS).** A meter refuses a frame counter at or below the last one it
accepted. When an HLS association is refused at the AARE, the session reads the meter's frame
counter object (``invocation_counter_object``, default ``0-0:43.1.0``) through a public-client
association (``public_client_address``, no security) on the same line, and — when that counter
is ahead of the one the session used — associates once more with the counter after it. ``state``
then holds the next counter. :meth:`Association.read_public_counter` is the same read on its
own (``DlmsDriver.read_invocation_counter`` uses it).
"""

from __future__ import annotations

from gurux_dlms import GXDLMSException
from gurux_dlms.GXDLMSClient import GXDLMSClient
from gurux_dlms.objects import GXDLMSData

from meterhub.extensions.driver import (
    AuthenticationFailed,
    DeviceError,
    DriverError,
    ProtocolError,
    Quality,
)
from meterhub.plugins.drivers.dlms import gurux_compat
from meterhub.plugins.drivers.dlms.aare import authentication_value, check_aare
from meterhub.plugins.drivers.dlms.cosem import logical_name
from meterhub.plugins.drivers.dlms.masking import (
    action_parameter,
    apdu_of,
    frame_spans,
    read_parameter,
)
from meterhub.plugins.drivers.dlms.session import DlmsSession

__all__ = ["Association"]


class Association(DlmsSession):
    """SNRM, AARQ/AARE and HLS for the session's client, and the frame counter read."""

    def open(self) -> None:
        """Associate; on an HLS refusal, resynchronise the invocation counter and retry once."""
        client = self.client
        self._link_up(client)
        try:
            self._aarq(client, self.authentication)
        except AuthenticationFailed as refused:
            if not self._may_resynchronise():
                raise
            self.client = client = self._resynchronised(refused)
        self._hls(client)
        self._associated = True
        self.trace.note("associated")

    # -- the steps --------------------------------------------------------------------------

    def _link_up(self, client: GXDLMSClient) -> None:
        """HDLC: SNRM/UA (the wrapper has no link layer)."""
        if self.framing != "hdlc":
            return
        reply = self._request(client.snrmRequest(), "SNRM", client=client)
        try:
            client.parseUAResponse(reply.data)
        except Exception as exc:
            raise ProtocolError(f"bad UA frame: {exc}", frame=self.trace.last_received()) from exc
        if self.short_names:
            # gurux's client cannot put together an SN data block that spans several HDLC
            # frames (defect 38): a PDU that fits one information field keeps every block
            # in one frame (same number of exchanges: each segment needs an RR anyway).
            limit = int(client.hdlcSettings.maxInfoRX) - 3  # the LLC header
            if int(client.maxReceivePDUSize) > limit:
                client.maxReceivePDUSize = limit
                self.trace.note(f"short names over HDLC: max PDU {limit} (one frame per block)")

    def _aarq(self, client: GXDLMSClient, authentication: str, label: str = "") -> None:
        """AARQ/AARE; the calling-authentication-value is masked, the AARE checked."""
        frames = list(client.aarqRequest())
        masks: list[list[tuple[int, int]]] = []
        if authentication != "none":  # only then does the AARQ carry a value to mask
            span = authentication_value(apdu_of(frames, self.framing))
            masks = frame_spans(frames, self.framing, [span] if span else [])
        try:
            note = f"AARQ ({label or authentication})"
            reply = self._request(frames, note, client=client, masks=masks)
            check_aare(bytes(reply.data.array()))
            client.parseAareResponse(reply.data)
        except DeviceError as exc:
            if authentication == "none":
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

    def _hls(self, client: GXDLMSClient) -> None:
        """HLS pass 3/4 when the meter asks for it; an unciphered answer is masked."""
        if not client.isAuthenticationRequired:
            return
        if self.short_names:  # a ReadRequest on the SN association (gurux defect 36)
            frames = gurux_compat.sn_hls_request(client, lambda built: apdu_of(built, self.framing))
            span = read_parameter(apdu_of(frames, self.framing))
        else:
            frames = list(client.getApplicationAssociationRequest())
            span = action_parameter(apdu_of(frames, self.framing))
        masks = frame_spans(frames, self.framing, [span] if span else [])
        try:
            reply = self._request(frames, "HLS pass 3", client=client, masks=masks)
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

    # -- the invocation counter ---------------------------------------------------------------

    def _may_resynchronise(self) -> bool:
        return (
            self.counts_invocations and self.settings.invocation_counter_resync and not self._broken
        )

    def _resynchronised(self, refused: AuthenticationFailed) -> GXDLMSClient:
        """Read the meter's counter, then associate a new client after it (AARQ done).

        Re-raises ``refused`` when the counter cannot be read or is not ahead of the one the
        refused association used (then the counter was not the reason).
        """
        used = int(self.client.ciphering.invocationCounter)
        self.trace.note(f"HLS refused at invocation counter {used}: reading the meter's counter")
        self.release(self.client)  # HDLC: DISC before the public client's SNRM
        try:
            self._fresh_line()
            counter = self.read_public_counter()
        except DriverError as exc:
            self.trace.note(f"cannot read the frame counter: {exc}")
            raise refused from exc
        if counter + 1 <= used:
            self.trace.note(f"the meter's counter {counter} is not ahead: keys or title refused")
            raise refused
        self.trace.note(f"invocation counter resynchronised: {used} → {counter + 1}")
        client = self.new_client(self.settings.client_address, self.authentication, counter + 1)
        self._fresh_line()
        self._link_up(client)
        self._aarq(client, self.authentication, f"{self.authentication}, resynchronised")
        return client

    def _fresh_line(self) -> None:
        """Make way for an association of another client.

        A meter binds a wrapper (TCP) connection to the client that opened it, so a line the
        driver opened itself is opened again; on a line it was given, the next AARQ goes on
        the same connection. On HDLC the previous client has disconnected (DISC) and the next
        one sends its own SNRM.
        """
        if self.framing == "wrapper" and self._own_medium:
            self.trace.note("opening the line again for another client")
            self.medium.close()
            self.link.reset()
            self.medium.open(self.timeout)

    def read_public_counter(self) -> int:
        """The meter's frame counter (``invocation_counter_object``), read by the public client.

        Opens a public-client association without security on this session's line (SNRM for
        HDLC), reads attribute 2 of the data object and releases it again.

        :raises DeviceError: the meter refused the read or the value is not a number.
        :raises AuthenticationFailed: the meter refused the public client.
        """
        public = self.new_client(self.settings.public_client_address, "none")
        obis = self.settings.invocation_counter_object
        self._link_up(public)
        try:
            self._aarq(public, "none", "public client")
            value, quality = self._get(GXDLMSData(logical_name(obis)), 2, client=public)
        finally:
            self.release(public)
        if quality is not Quality.VALID or isinstance(value, bool) or not isinstance(value, int):
            raise DeviceError(f"the meter gave no frame counter in {obis} ({quality.value})")
        self.trace.note(f"frame counter {obis} = {value}")
        return value
