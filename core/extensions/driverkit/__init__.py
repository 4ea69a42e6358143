"""The driver kit: everything a protocol driver and its simulator need beyond the contract.

Drivers (built-in or third-party) import from here and from :mod:`meterhub.extensions.driver`,
never from another plugin's modules. The kit holds:

================================  ===========================================================
settings                          :class:`PluginSettings` (a pydantic model per driver or
                                  medium, parsed from text, errors as ``InvalidValue``),
                                  :data:`WholeNumber`, :func:`secret`, :class:`SecretSpec`,
                                  :func:`session_counter`
exact reads over a medium         :func:`read_exactly`, :func:`read_until` (deadline, frames
                                  in chunks, :class:`MeterTimeout` on silence), :func:`pending`,
                                  :func:`unread`, :func:`take_pending`
opening a line                    :func:`open_line` (settings parsed, then the given medium
                                  or one opened here), :func:`open_medium` (by the medium's
                                  entry-point name),
                                  :func:`medium_class`, :func:`split_settings`,
                                  :func:`line_settings`
a socket as a line                :class:`SocketMedium` (read with a timeout, send all,
                                  close, frame trace) for a connected TCP socket, dialled
                                  (the ``tcp`` medium) or accepted (meters that call in)
simulators                        :class:`FrameServer` (TCP listeners and ptys, a thread per
                                  session, clean stop), :class:`ByteChannel`,
                                  :class:`ChannelClosed`, :class:`PtyPair`
the simulated meter model         :class:`SimulatedMeter` (deterministic values from a serial
                                  number and the time), :func:`unix_seconds`, :func:`utc_at`
================================  ===========================================================

A minimal simulator serves a request/answer protocol like this::

    def serve(channel: ByteChannel) -> None:
        while True:
            request = channel.read(4096, timeout=0.2)
            if request:
                channel.write(answer_to(request))

    server = FrameServer("mysim")
    host, port = server.listen("127.0.0.1", 0, serve)
    ...
    server.stop()
"""

from meterhub.extensions.driverkit.channel import ByteChannel, ChannelClosed
from meterhub.extensions.driverkit.frameserver import FrameServer, SessionFunction, SocketChannel
from meterhub.extensions.driverkit.media import (
    MEDIA_GROUP,
    Line,
    line_kind,
    line_settings,
    medium_class,
    open_line,
    open_medium,
    split_settings,
)
from meterhub.extensions.driverkit.metermodel import (
    EVENT_LOG,
    FIRMWARE,
    SimulatedMeter,
    unix_seconds,
    utc_at,
)
from meterhub.extensions.driverkit.pty import PtyClosed, PtyPair
from meterhub.extensions.driverkit.socketline import SocketMedium
from meterhub.extensions.driverkit.stream import (
    pending,
    read_exactly,
    read_until,
    take_pending,
    unread,
)
from meterhub.extensions.settings import (
    PluginSettings,
    SecretSpec,
    WholeNumber,
    parse_whole_number,
    secret,
    session_counter,
)

__all__ = [
    "EVENT_LOG",
    "FIRMWARE",
    "MEDIA_GROUP",
    "ByteChannel",
    "ChannelClosed",
    "FrameServer",
    "Line",
    "PluginSettings",
    "PtyClosed",
    "PtyPair",
    "SecretSpec",
    "SessionFunction",
    "SimulatedMeter",
    "SocketChannel",
    "SocketMedium",
    "WholeNumber",
    "line_kind",
    "line_settings",
    "medium_class",
    "open_line",
    "open_medium",
    "parse_whole_number",
    "pending",
    "read_exactly",
    "read_until",
    "secret",
    "session_counter",
    "split_settings",
    "take_pending",
    "unix_seconds",
    "unread",
    "utc_at",
]
