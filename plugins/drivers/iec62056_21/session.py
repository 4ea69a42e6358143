"""One IEC 62056-21 mode C exchange at a time: sign-on, option select, blocks, programming mode.

:class:`IecSession` owns the line to one meter. Every answer is read with the standard's two
time-outs (:mod:`.link`): ``timeout`` for the meter's reaction, ``inter_character_timeout``
within the answer. The password command ``P1(password)`` never reaches the frame trace: its
password bytes and its block check (an XOR of them) are masked in the sent frame, and any
echo of the password on the line is masked while the exchange lasts.
"""

from __future__ import annotations

import time
from datetime import tzinfo

from meterhub.extensions.driver import AuthenticationFailed, MeterTimeout, ProtocolError
from meterhub.extensions.driverkit import read_exactly, take_pending, unread
from meterhub.extensions.medium import Medium
from meterhub.plugins.drivers.iec62056_21.link import Timing, read_answer
from meterhub.plugins.drivers.iec62056_21.protocol import (
    ACK,
    BAUD_CHARS,
    ETX,
    NAK,
    SOH,
    STX,
    Identification,
    break_frame,
    check_block,
    command_frame,
    is_echo,
    option_select,
    parse_identification,
    sign_on,
)
from meterhub.plugins.drivers.iec62056_21.settings import IecSettings, zone_of

__all__ = ["IecSession"]

#: The largest data block accepted before it is oversized.
MAX_BLOCK = 256 * 1024
#: Lines before the identification that are skipped (echo of the request, noise).
_SKIPPED_LINES = 3


class IecSession:
    """The protocol side of an IEC 62056-21 connection over an open medium."""

    def __init__(self, medium: Medium, settings: IecSettings) -> None:
        self.medium = medium
        self.device_address = settings.device_address
        self.password = settings.password or ""
        self.max_baudrate = settings.max_baudrate
        self.timing = Timing(settings.timeout, settings.inter_character_timeout)
        self.reaction_time = settings.reaction_time
        self.zone: tzinfo = zone_of(settings.timezone)
        line = getattr(medium, "line", None)
        self.initial_baudrate: int | None = getattr(line, "baudrate", None)
        self.identification: Identification | None = None
        #: Whether the line echoes what the driver sends (half-duplex RS-485, some probes).
        self.echo = False

    def write(self, frame: bytes, *, secret: bool = False) -> None:
        """Send ``frame``; on an echoing line, drop its echo (the bytes that come back first).

        With ``secret``, the echo is recorded in the trace as one entry, so the masking of the
        secret cannot miss a part of it that arrived in another chunk.
        """
        self.medium.write(frame)
        if not self.echo:
            return
        trace = self.medium.trace
        if secret:
            self.medium.trace = None
        try:
            heard = read_exactly(self.medium, len(frame), self.timing.reaction, what="echo")
        except MeterTimeout as exc:
            heard = b""
            unread(self.medium, exc.frame or b"")  # no echo this time: keep it for the answer
        finally:
            self.medium.trace = trace
        if secret and trace is not None and heard:
            # the echo's block check is computed from the secret too (every byte of its value
            # in the echo is masked with it: the echo's content is known anyway)
            with trace.secret(frame[-1:] if heard == frame else b""):
                trace.received(heard)
        if heard and heard != frame:
            unread(self.medium, heard)

    def note(self, text: str) -> None:
        """A remark in the medium's frame trace."""
        if self.medium.trace is not None:
            self.medium.trace.note(text)

    def _set_baudrate(self, baudrate: int) -> None:
        switch = getattr(self.medium, "set_baudrate", None)
        if switch is not None:
            switch(baudrate)

    def _identification(self) -> Identification:
        for _ in range(_SKIPPED_LINES + 1):
            line = read_answer(self.medium, b"\n", self.timing, max_size=256, what="identification")
            if is_echo(line):
                self.note("the line echoes what the driver sends: echoes are skipped")
                self.echo = True
                continue
            start = line.find(b"/")
            return parse_identification(line[start:] if start >= 0 else line)
        raise ProtocolError("IEC 62056-21: no identification after the echo", frame=line)

    def sign_on(self, mode: str) -> Identification:
        """Request, identification, option select for ``mode`` (0 readout, 1 programming)."""
        if self.initial_baudrate is not None:
            self._set_baudrate(self.initial_baudrate)
        take_pending(self.medium, 1 << 30)  # nothing of an earlier exchange is an answer
        self.echo = False
        self.medium.write(sign_on(self.device_address))
        identification = self._identification()
        self.identification = identification
        wait = self.reaction_time
        if wait is None:
            wait = 0.02 if identification.fast_reaction else 0.2
        time.sleep(wait)
        offered = [c for c, rate in BAUD_CHARS.items() if rate <= self.max_baudrate]
        # a mode C meter offers 0..6; anything else (mode B letters) stays at the sign-on rate
        meter_char = identification.baud_char if identification.baud_char in BAUD_CHARS else "0"
        char = min(meter_char, max(offered))
        self.write(option_select(char, mode))
        self._set_baudrate(BAUD_CHARS[char])
        self.note(
            f"{identification.manufacturer} {identification.identification}: "
            f"mode {'readout' if mode == '0' else 'programming'} at {BAUD_CHARS[char]} Bd"
        )
        return identification

    def block(self, what: str) -> bytes:
        """A STX/SOH … ETX BCC block, checked; its body."""
        frame = read_answer(self.medium, ETX, self.timing, extra=1, max_size=MAX_BLOCK, what=what)
        starts = [index for index in (frame.find(SOH), frame.find(STX)) if index >= 0]
        return check_block(frame[min(starts) :] if starts else frame)

    def answer(self, what: str) -> bytes:
        """ACK, NAK, or the body of a block."""
        first = read_answer(self.medium, (ACK, NAK, SOH, STX), self.timing, what=what)
        last = first[-1:]
        if last in (ACK, NAK):
            return last
        rest = read_answer(
            self.medium, ETX, self.timing, extra=1, max_size=MAX_BLOCK, what=what, started=True
        )
        return check_block(last + rest)

    def readout(self) -> bytes:
        """The data message of a readout (mode 0): its body between STX and ETX."""
        self.sign_on("0")
        return self.block("data readout")

    def login(self) -> None:
        """Programming mode (mode 1) with the password.

        :raises AuthenticationFailed: the meter answered NAK to the password.
        """
        self.sign_on("1")
        self.block("password operand (P0)")
        secret = self.password.encode("ascii")
        frame = command_frame("P1", f"({self.password})")
        trace = self.medium.trace
        if trace is None or not secret:
            self.write(frame)
            answer = self.answer("password answer")
        else:
            start = frame.index(b"(") + 1
            # the password and the block check, which is computed from it
            trace.mask_next([(start, start + len(secret)), (len(frame) - 1, len(frame))])
            with trace.secret(secret):
                self.write(frame, secret=True)
                answer = self.answer("password answer")
        if answer == NAK:
            self.end()
            raise AuthenticationFailed("IEC 62056-21: the meter refused the password", frame=NAK)
        if answer != ACK:
            raise ProtocolError("IEC 62056-21: no ACK to the password", frame=answer)

    def command(self, command: str, data: str, what: str) -> bytes:
        """Send a programming command; ACK, NAK or the body of the answer block."""
        self.write(command_frame(command, data))
        return self.answer(what)

    def end(self) -> None:
        """``B0``: end programming mode and go back to the sign-on rate."""
        try:
            self.write(break_frame())
        finally:
            if self.initial_baudrate is not None:
                self._set_baudrate(self.initial_baudrate)
