"""IEC 62056-21: frames, the block check character, identification and the data-set parser.

Pure functions, no I/O. The parser turns a data block (the text between STX and ETX, or a P1
telegram's lines) into :class:`DataSet` objects: the meter's address, its OBIS code as the
meter gives it (A-B kept, short forms completed), and the ``(value*unit)`` groups. It raises
only :class:`Iec21ParseError` (a :class:`~meterhub.extensions.driver.ProtocolError`) with the
line and column at fault.

Real meters bend the standard, and the parser takes what they send:

* identification lines longer than the 16 characters the standard allows, with spaces, and
  an enhanced identification character other than ``\\2``;
* ``!`` right after the last value (``1.8.0(1.5*kWh)!``) and anything between ``!`` and ETX
  (CR LF, stray bytes): the data end at the first ``!`` outside a value;
* several groups on one line (``1.6.0(26-02-15 12:15)(2.5*kW)``, P1's
  ``0-1:24.2.1(260301120000W)(00012.345*m3)``) and rows of groups without an address
  (load profiles, DSMR 2.2's gas value on the line after its header).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import ProtocolError
from meterhub.identifiers import ObisCode

__all__ = [
    "ACK",
    "BAUD_CHARS",
    "ETX",
    "NAK",
    "SOH",
    "STX",
    "DataSet",
    "DataValue",
    "Identification",
    "Iec21ParseError",
    "bcc",
    "break_frame",
    "check_block",
    "command_frame",
    "is_echo",
    "number",
    "obis_of",
    "option_select",
    "parse_data_block",
    "parse_date_time",
    "parse_identification",
    "parse_timestamp",
    "sign_on",
]

SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
#: Mode C baud rate characters.
BAUD_CHARS = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
#: The longest identification accepted (the standard says 16; meters send more).
MAX_IDENTIFICATION = 100
_ADDRESS = re.compile(r"^[0-9A-Za-z ]{0,32}$")
_IDENT = re.compile(
    rb"^/([A-Za-z]{3})([0-9A-Z])(\\[\x21-\x7e])?([\x20-\x7e]{1,%d})\r?\n$" % MAX_IDENTIFICATION
)
_LETTERS = {"C": 96, "F": 97, "L": 98, "P": 99}
_TIME = re.compile(r"^(\d\d)-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?$")
_COMPACT = re.compile(r"^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?([SW])?$")
_DATE_ONLY = re.compile(r"^(\d\d)-?(\d\d)-?(\d\d)$")
_TIME_ONLY = re.compile(r"^(\d\d):?(\d\d)(?::?(\d\d))?$")
_NUMBER = re.compile(r"^[+-]?\d+(\.\d+)?$")
#: The most characters a data block may have before it is oversized.
MAX_BLOCK = 1 << 20


class Iec21ParseError(ProtocolError):
    """A data block, identification or frame that does not follow IEC 62056-21."""


def bcc(data: bytes) -> int:
    """The block check character: XOR of every byte (pass the bytes after STX/SOH up to ETX)."""
    value = 0
    for byte in data:
        value ^= byte
    return value


def sign_on(address: str = "") -> bytes:
    """``/?`` [address] ``!`` CR LF."""
    if not _ADDRESS.match(address):
        raise InvalidValue("settings.device_address", "up to 32 letters, digits and spaces")
    return f"/?{address}!\r\n".encode("ascii")


def is_echo(line: bytes) -> bool:
    """Whether ``line`` is a request message (``/?…!``): the echo of a half-duplex line."""
    return line.lstrip(b"\x00\xff").startswith(b"/?") and line.rstrip().endswith(b"!")


def option_select(baud_char: str, mode: str) -> bytes:
    """ACK ``0`` Z Y CR LF: normal protocol, baud character Z, mode Y (0 readout, 1 programming)."""
    return ACK + f"0{baud_char}{mode}\r\n".encode("ascii")


def command_frame(command: str, data: str = "") -> bytes:
    """SOH C D STX data ETX BCC (``P1``, ``R1``, ``W1``, ``R5`` ...)."""
    body = command.encode("ascii") + STX + data.encode("ascii") + ETX
    return SOH + body + bytes([bcc(body)])


def break_frame() -> bytes:
    """SOH ``B0`` ETX BCC: end the session."""
    body = b"B0" + ETX
    return SOH + body + bytes([bcc(body)])


def check_block(frame: bytes) -> bytes:
    """Verify a STX/SOH … ETX BCC frame; return what lies between the start byte and ETX.

    :raises Iec21ParseError: wrong start, missing ETX, or a block check mismatch.
    """
    if len(frame) < 3 or frame[:1] not in (STX, SOH):
        raise Iec21ParseError("frame does not start with STX or SOH", frame=frame)
    if frame[-2:-1] != ETX:
        raise Iec21ParseError("frame does not end with ETX and a BCC", frame=frame)
    expected = bcc(frame[1:-1])
    if frame[-1] != expected:
        raise Iec21ParseError(
            f"bad BCC: got 0x{frame[-1]:02X}, computed 0x{expected:02X}", frame=frame
        )
    return frame[1:-2]


@dataclass(frozen=True, slots=True)
class Identification:
    """The meter's identification message ``/XXXZ<ident>``."""

    manufacturer: str
    baud_char: str
    identification: str
    #: True when the third manufacturer letter is lowercase: 20 ms minimum reaction time.
    fast_reaction: bool
    enhanced: str = ""

    @property
    def max_baudrate(self) -> int:
        """The highest baud rate the meter offers (mode C)."""
        return BAUD_CHARS.get(self.baud_char, 300)


def parse_identification(line: bytes) -> Identification:
    """Parse ``/MHs5IEC-0001\\r\\n``; :class:`Iec21ParseError` otherwise.

    Identifications of up to :data:`MAX_IDENTIFICATION` printable characters (spaces
    included) are accepted; trailing spaces are dropped.
    """
    match = _IDENT.match(line)
    if not match:
        raise Iec21ParseError(
            "not an identification message (/XXXZident CR LF, up to "
            f"{MAX_IDENTIFICATION} printable characters)",
            frame=line,
        )
    manufacturer = match.group(1).decode("ascii")
    identification = match.group(4).decode("ascii").rstrip()
    if not identification:
        raise Iec21ParseError("identification message without an identification", frame=line)
    return Identification(
        manufacturer=manufacturer,
        baud_char=match.group(2).decode("ascii"),
        identification=identification,
        fast_reaction=manufacturer[2].islower(),
        enhanced=(match.group(3) or b"").decode("ascii"),
    )


@dataclass(frozen=True, slots=True)
class DataValue:
    """One ``(value*unit)`` group."""

    text: str
    unit: str | None = None


@dataclass(frozen=True, slots=True)
class DataSet:
    """One data set: ``address(value*unit)(value)…``.

    ``obis`` is the canonical code (``None`` when the address is not an OBIS code) and
    ``code`` the same as an :class:`~meterhub.identifiers.ObisCode`.
    """

    address: str
    obis: str | None
    values: tuple[DataValue, ...]
    line: int
    code: ObisCode | None = None

    @property
    def value(self) -> DataValue | None:
        """The first value, or ``None`` for an address without values."""
        return self.values[0] if self.values else None

    @property
    def is_error(self) -> bool:
        """The meter answered with an error text (``(ERROR)``, ``(ER01)``) instead of a value."""
        return bool(self.values) and self.values[0].text.upper().startswith("ER")


def obis_code_of(address: str) -> ObisCode | None:
    """The OBIS code of a printed address, or ``None``.

    Addresses with the letters C, F, L, P (service, error, list, profile codes) and the
    service groups 96..99 are abstract (A = 0) unless they say otherwise; the others default
    to electricity (A = 1). A full code (``1-1:0.9.1``, ``0-2:24.2.1``) keeps its A and B.
    """
    text = address.strip()
    if not text:
        return None
    head = text.split(":")[-1].split(".")[0]
    default_a = 0 if head.upper() in _LETTERS or head in ("96", "97", "98", "99") else 1
    try:
        return ObisCode.parse(text, field="address", default_a=default_a)
    except (InvalidValue, ValueError, TypeError, OverflowError, IndexError):
        return None


def obis_of(address: str) -> str | None:
    """The canonical OBIS code of a printed address, or ``None`` (``P.01`` is ``0-0:99.1.0``)."""
    code = obis_code_of(address)
    return None if code is None else str(code)


def _fail(reason: str, line: int, column: int, text: str) -> Iec21ParseError:
    return Iec21ParseError(
        f"data block line {line}, column {column}: {reason}",
        frame=text.encode("latin-1", "replace")[:256],
    )


def _decoded(block: bytes | str) -> str:
    if isinstance(block, str):
        return block
    if len(block) > MAX_BLOCK:
        raise Iec21ParseError(f"data block of {len(block)} bytes is oversized", frame=block[:256])
    # latin-1 maps every byte to one character: columns stay byte offsets, and bytes after
    # the end marker (which meters do send) never fail the decoding.
    return block.decode("latin-1")


def parse_data_block(block: bytes | str) -> list[DataSet]:
    """Parse the lines of a data block (the bytes between STX and ETX, ``!`` included).

    Each line holds one or more data sets ``address(value[*unit])`` with any number of further
    ``(…)`` groups; a line of groups without an address (load-profile rows) gives data sets with
    an empty address. The data end at the first ``!`` outside a value, at the start of a line
    or right after a value; whatever follows it is ignored.
    """
    text = _decoded(block)
    datasets: list[DataSet] = []
    for number_, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        cut = line.find("!")
        if not (line if cut < 0 else line[:cut]).isascii():
            column = next(i for i, char in enumerate(line) if not char.isascii())
            raise _fail(f"byte 0x{ord(line[column]):02X} is not ASCII", number_, column + 1, line)
        position = 0
        length = len(line)
        while position < length:
            while position < length and line[position] in " \t":
                position += 1
            if position >= length:
                break
            if line[position] == "!":
                return datasets
            open_at = line.find("(", position)
            if open_at < 0:
                raise _fail("text after the last value", number_, position + 1, line)
            address = line[position:open_at].strip()
            if ")" in address or "!" in address:
                raise _fail(f"bad address {address!r}", number_, position + 1, line)
            values = []
            cursor = open_at
            while cursor < length and line[cursor] == "(":
                close_at = line.find(")", cursor)
                if close_at < 0:
                    raise _fail("'(' without ')'", number_, cursor + 1, line)
                inner = line[cursor + 1 : close_at]
                if "(" in inner:
                    raise _fail("'(' inside a value", number_, cursor + 1, line)
                value, star, unit = inner.partition("*")
                if star and not unit.strip():
                    raise _fail("'*' without a unit", number_, cursor + 1, line)
                values.append(DataValue(value.strip(), unit.strip() or None))
                cursor = close_at + 1
            code = obis_code_of(address)
            datasets.append(
                DataSet(address, None if code is None else str(code), tuple(values), number_, code)
            )
            position = cursor
    return datasets


def number(text: str) -> tuple[int, int] | None:
    """``"004123.456"`` → ``(4123456, -3)``: an exact integer and its decimal scaler."""
    if not _NUMBER.match(text):
        return None
    whole, _, fraction = text.partition(".")
    return int(whole + fraction), -len(fraction)


def _local(parts: tuple[int, ...], zone: tzinfo, season: str | None) -> datetime | None:
    year, month, day, hour, minute, second = parts
    try:
        moment = datetime(2000 + year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None
    if season:
        # S (summer, DST) is the first of an hour that occurs twice, W (winter) the second.
        moment = moment.replace(fold=0 if season == "S" else 1)
    return moment


def parse_timestamp(text: str, zone: tzinfo) -> datetime | None:
    """A time in the meter's zone → aware datetime, or ``None`` when ``text`` is not one.

    Forms: ``YY-MM-DD hh:mm[:ss]`` and ``YYMMDDhhmm[ss][S|W]`` (P1's ``260301120000W``: the
    letter says summer or winter time, which settles the hour that occurs twice).
    """
    stripped = text.strip()
    match = _TIME.match(stripped)
    season = None
    if match is None:
        match = _COMPACT.match(stripped)
        if match is None:
            return None
        season = match.group(7)
    year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
    second = int(match.group(6) or 0)
    return _local((year, month, day, hour, minute, second), zone, season)


def parse_date_time(date_text: str, time_text: str, zone: tzinfo) -> datetime | None:
    """The meter clock from its date (``0.9.2``) and time (``0.9.1``) values.

    Dates ``YY-MM-DD`` or ``YYMMDD``; times ``hh:mm:ss``, ``hh:mm`` or ``hhmmss``.
    """
    date = _DATE_ONLY.match(date_text.strip())
    clock = _TIME_ONLY.match(time_text.strip())
    if date is None or clock is None:
        return None
    year, month, day = (int(part) for part in date.groups())
    hour, minute = int(clock.group(1)), int(clock.group(2))
    return _local((year, month, day, hour, minute, int(clock.group(3) or 0)), zone, None)
