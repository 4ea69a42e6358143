"""Messages meters send on their own (DLMS data notifications, "push"), as drivers decode them.

A meter on GPRS/LTE with a dynamic address cannot be dialled: it opens a connection to the
head-end and pushes. The core's listener (:mod:`meterhub.acquisition.inbound`) accepts the
connection, and the meter's driver reads the message in two steps, because what the values
mean is configured per meter and the meter is not known before the message is read:

1. :meth:`~meterhub.extensions.driver.Driver.read_push` reads one message from the line and
   returns a :class:`PushMessage`: the identities the message carries (system title, logical
   device name, serial number, as text) and its raw values;
2. once the listener found the meter by one of those identities,
   :meth:`~meterhub.extensions.driver.Driver.decode_push` turns the values into
   :class:`PushContent` with the meter's settings: readings by OBIS code and events (alarms).

A message of a meter the inventory lacks, or one the driver refuses, is recorded by the
telegram stream as heard (:mod:`meterhub.acquisition.heard`) from :attr:`PushMessage.sender`;
a driver tells why it refused by the error it returns: :class:`NoKey` (no key for an
enciphered message), :class:`~meterhub.extensions.driver.AuthenticationFailed` (a wrong key),
:class:`Replayed` (a message already taken), any other error (refused).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from meterhub.extensions.driver import AuthenticationFailed, MeterEvent, ProtocolError, Reading

__all__ = ["NoKey", "PushContent", "PushMessage", "Replayed"]


class NoKey(AuthenticationFailed):
    """The message is enciphered and no key is configured for its meter."""


class Replayed(ProtocolError):
    """A message already taken (the same or an older access number or counter)."""


@dataclass(frozen=True, slots=True)
class PushMessage:
    """One message a meter pushed, read but not yet interpreted.

    ``identities`` are the texts that may name the meter, in the order found (a system title as
    16 upper-case hex digits, logical device names and serial numbers as text); ``time`` the
    message's own time stamp (aware UTC) or ``None``; ``values`` the decoded body, one entry
    per captured attribute; ``frame`` the bytes received; ``received`` when they arrived.
    ``sender`` what the message tells of its sender for the list of meters heard (all
    optional): ``address`` (unique per sender, default the first identity),
    ``manufacturer``, ``identification``, ``version``, ``device_type`` (numbers), ``medium``
    (a name) and ``rssi`` (the receiver's signal strength in dBm).
    """

    identities: tuple[str, ...]
    time: datetime | None
    values: tuple[Any, ...]
    frame: bytes
    received: datetime
    sender: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PushContent:
    """What a pushed message means for one meter: readings, events, and what was not understood.

    ``events`` are the alarms the meter pushed (an alarm register's set bits, event codes);
    ``warnings`` name values the meter's push layout does not explain; ``state`` session state
    to keep for the meter (a wireless meter's replay state), as
    :attr:`~meterhub.extensions.driver.DriverConnection.state`.
    """

    readings: tuple[Reading, ...] = ()
    events: tuple[MeterEvent, ...] = ()
    warnings: tuple[str, ...] = ()
    state: Mapping[str, str] = field(default_factory=dict)
