"""The DLMS/COSEM driver: gurux-dlms' client over MeterHub's media, quality per value.

Address: ``host:port`` (TCP, e.g. ``10.0.0.5:4059``) or a serial device (``/dev/ttyUSB0``,
a pty). Without a medium from the core the driver opens a ``tcp`` or ``serial`` medium itself.
Settings (all text; see :data:`SETTINGS` and ``docs/drivers/dlms.md``):

* ``framing``: ``wrapper`` (default over TCP) or ``hdlc`` (default over serial);
  ``referencing``: ``ln`` (default) or ``sn`` (short names: base names from ``short_names`` or
  the object list);
* ``client_address`` (default 16), ``logical_address`` (server, default 1),
  ``physical_address`` (HDLC, default 17);
* ``authentication``: ``none`` (default), ``low`` (needs ``password``), the HLS mechanisms
  ``manufacturer``, ``md5``, ``sha1``, ``sha256`` (the HLS secret in ``password``) or ``gmac``
  (also ``high``; needs ``authentication_key``, ``block_cipher_key`` as hex and the client's
  ``system_title`` as 16 hex digits); ``security`` ``authentication_encryption`` (default for
  GMAC), ``authentication``, ``encryption`` or ``none`` (default otherwise), in
  ``security_suite`` 0, 1 or 2;
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

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, ClassVar

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import Action, Driver, DriverInfo
from meterhub.extensions.driverkit import PluginSettings, open_medium, split_settings
from meterhub.extensions.medium import Medium
from meterhub.extensions.push import PushContent, PushMessage
from meterhub.plugins.drivers.dlms.calendar import calendar_from_json, calendar_to_json
from meterhub.plugins.drivers.dlms.control import SupplyControl
from meterhub.plugins.drivers.dlms.events import DEFAULT_TABLE, event_table
from meterhub.plugins.drivers.dlms.firmware import FirmwareUpgrade, ImageTransferFailed
from meterhub.plugins.drivers.dlms.profiles import ProfileReading
from meterhub.plugins.drivers.dlms.push import decode_push, parse_push_objects, read_push
from meterhub.plugins.drivers.dlms.settings import DlmsSettings

__all__ = [
    "DlmsConnection",
    "DlmsDriver",
    "DlmsSettings",
    "ImageTransferFailed",
    "calendar_from_json",
    "calendar_to_json",
]


class DlmsConnection(FirmwareUpgrade, SupplyControl, ProfileReading):
    """A DLMS association with one meter: every action of the ``dlms`` driver.

    The session (:mod:`.session`) moves the frames; registers and the clock (:mod:`.registers`),
    profiles, billing and events (:mod:`.profiles`), supply control, load limit and tariffs
    (:mod:`.control`) and firmware (:mod:`.firmware`) are its actions.
    """


class DlmsDriver(Driver):
    """DLMS/COSEM meters with logical or short name referencing, over the wrapper or HDLC."""

    name: ClassVar[str] = "dlms"
    settings_model: ClassVar[type[PluginSettings]] = DlmsSettings

    @classmethod
    def info(cls) -> DriverInfo:
        """Describe the DLMS driver."""
        return DriverInfo(
            name=cls.name,
            description="DLMS/COSEM (IEC 62056) with gurux-dlms: wrapper or HDLC, LN or SN "
            "referencing",
            actions=frozenset(
                {
                    Action.READ_LOAD_PROFILE,
                    Action.READ_REGISTERS,
                    Action.READ_INSTANTANEOUS,
                    Action.READ_EVENTS,
                    Action.READ_BILLING,
                    Action.READ_CLOCK,
                    Action.SET_CLOCK,
                    Action.DISCONNECT_SUPPLY,
                    Action.RECONNECT_SUPPLY,
                    Action.READ_LOAD_LIMIT,
                    Action.SET_LOAD_LIMIT,
                    Action.UPLOAD_TARIFF,
                    Action.UPGRADE_FIRMWARE,
                }
            ),
            address_syntax="host:port (TCP, e.g. 10.0.0.5:4059) or a serial device (/dev/ttyUSB0)",
            settings_model=DlmsSettings,
            media=("tcp", "serial", "modem"),
        )

    receives_push: ClassVar[bool] = True

    def read_push(self, medium: Medium, timeout: float) -> PushMessage:
        """Read one data-notification a meter pushed (:func:`.push.read_push`)."""
        return read_push(medium, timeout)

    def decode_push(self, message: PushMessage, settings: Mapping[str, Any]) -> PushContent:
        """The readings and alarms of ``message`` after the meter's ``push_objects``."""
        # only the settings that say what a push means: the credentials are not needed
        layouts = parse_push_objects(str(settings.get("push_objects") or ""))
        table = str(settings.get("event_table") or DEFAULT_TABLE)
        event_table(table)  # InvalidValue for an unknown table
        return decode_push(message, layouts, table)

    def connect(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None = None
    ) -> DlmsConnection:
        """Open a session: medium (unless given), SNRM for HDLC, AARQ, HLS when asked.

        The address and every setting are checked before anything is opened; a line the driver
        opened itself is closed again on every failure.

        :raises LinkLost: the meter cannot be reached (``MeterTimeout``: it does not answer).
        :raises AuthenticationFailed: the meter refused the association (password, keys).
        :raises ProtocolError: an answer that cannot be right.
        :raises meterhub.errors.InvalidValue: the address or a setting is malformed.
        """
        connection = self._session(address, settings, medium)
        try:
            connection.open()
        except BaseException:
            connection.close()
            raise
        return connection

    def read_invocation_counter(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None = None
    ) -> int:
        """The meter's HLS frame counter, read by the public client without security.

        Reads ``invocation_counter_object`` (default ``0-0:43.1.0``) through an association
        of ``public_client_address`` (default 16); start the next HLS session with a counter
        after it. The same checks and clean-up as :meth:`connect`.

        :raises DeviceError: the meter has no such object or refused it to the public client.
        """
        connection = self._session(address, settings, medium)
        try:
            return connection.read_public_counter()
        finally:
            connection.close()

    def _session(
        self, address: str, settings: Mapping[str, Any], medium: Medium | None
    ) -> DlmsConnection:
        """A connection not yet associated: settings checked first, then the line opened."""
        if not isinstance(address, str) or not address.strip():
            raise InvalidValue("address", "must be host:port or a serial device path")
        address = address.strip()
        serial_line = address.startswith("/") or address.upper().startswith("COM")
        kind = medium.name if medium is not None else ("serial" if serial_line else "tcp")
        options, line_part = _prepare(settings, kind)
        own = medium is None
        if medium is None:
            medium = open_medium(kind, address, line_part, timeout=options.timeout)
        try:
            return DlmsConnection(address, options, medium, own_medium=own, serial=serial_line)
        except BaseException:
            if own:
                medium.close()
            raise


def _prepare(settings: Mapping[str, Any], kind: str) -> tuple[DlmsSettings, dict[str, Any]]:
    """The driver's parsed settings and the line's part, remembered for settings without
    credentials.

    A fleet of meters of one type repeats the same settings, and pydantic's validation is a
    measurable part of a short session's CPU. Settings holding a secret are parsed every time,
    so no credential outlives its session in a cache.
    """
    if not any(name in settings for name in _SECRETS):
        try:
            key = tuple(sorted(settings.items()))
            hash(key)
        except TypeError:
            pass
        else:
            options, line_part = _prepare_cached(key, kind)
            return options, dict(line_part)
    own_part, line_part = split_settings(settings, DlmsSettings, kind)
    return DlmsSettings.parse(own_part), line_part


_SECRETS = frozenset(DlmsSettings.secrets())


@lru_cache(maxsize=256)
def _prepare_cached(
    key: tuple[tuple[str, Any], ...], kind: str
) -> tuple[DlmsSettings, tuple[tuple[str, Any], ...]]:
    own_part, line_part = split_settings(dict(key), DlmsSettings, kind)
    return DlmsSettings.parse(own_part), tuple(line_part.items())
