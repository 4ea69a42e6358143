"""IEC 62056-21 mode C: frames, the block check character and the data-set parser.

Pure functions, no I/O. The parser turns a data block (the text between STX and ``!``) into
:class:`DataSet` objects: OBIS address (the meter's short form and the canonical code), the
values with their units, and the timestamp of a value given as a second ``(YY-MM-DD hh:mm)``
group. It raises only :class:`Iec21ParseError` (a
:class:`~meterhub.extensions.driver.ProtocolError`) with the line and column at fault.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, tzinfo

from meterhub.errors import InvalidValue
from meterhub.extensions.driver import ProtocolError
from meterhub.identifiers import canonical_obis

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
    "number",
    "obis_of",
    "option_select",
    "parse_data_block",
    "parse_identification",
    "parse_timestamp",
    "sign_on",
]

SOH, STX, ETX, ACK, NAK = b"\x01", b"\x02", b"\x03", b"\x06", b"\x15"
#: Mode C baud rate characters.
BAUD_CHARS = {"0": 300, "1": 600, "2": 1200, "3": 2400, "4": 4800, "5": 9600, "6": 19200}
_ADDRESS = re.compile(r"^[0-9A-Za-z ]{0,32}$")
_IDENT = re.compile(rb"^/([A-Za-z]{2}[A-Za-z])([0-9A-Z])(\\[0-9])?([\x20-\x7e]{1,16})\r\n$")
_LETTERS = {"C": 96, "F": 97, "L": 98, "P": 99}
_TIME = re.compile(r"^(\d\d)-(\d\d)-(\d\d) (\d\d):(\d\d)(?::(\d\d))?$")
_COMPACT = re.compile(r"^(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)?$")
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
    """Parse ``/MHs5IEC-0001\\r\\n``; :class:`Iec21ParseError` otherwise."""
    match = _IDENT.match(line)
    if not match:
        raise Iec21ParseError("not an identification message (/XXXZident CR LF)", frame=line)
    manufacturer = match.group(1).decode("ascii")
    return Identification(
        manufacturer=manufacturer,
        baud_char=match.group(2).decode("ascii"),
        identification=match.group(4).decode("ascii"),
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
    """One data set: ``address(value*unit)(value)…``; ``obis`` is canonical or ``None``."""

    address: str
    obis: str | None
    values: tuple[DataValue, ...]
    line: int

    @property
    def value(self) -> DataValue | None:
        """The first value, or ``None`` for an address without values."""
        return self.values[0] if self.values else None

    @property
    def is_error(self) -> bool:
        """The meter answered with an error text (``(ERROR)``, ``(ER01)``) instead of a value."""
        return bool(self.values) and self.values[0].text.upper().startswith("ER")


def obis_of(address: str) -> str | None:
    """The canonical OBIS code of a printed address, or ``None`` (``P.01`` stays ``0-0:99.1.0``).

    Addresses with the letters C, F, L, P (service, error, list, profile codes) and the
    general-purpose ``0.x.x`` are abstract (A = 0) unless they say otherwise; the others default
    to electricity (A = 1).
    """
    text = address.strip()
    if not text:
        return None
    head = text.split(":")[-1].split(".")[0]
    default_a = 0 if head.upper() in _LETTERS or head in ("96", "97", "98", "99") else 1
    try:
        return canonical_obis(text, field="address", default_a=default_a)
    except (InvalidValue, ValueError, TypeError, OverflowError, IndexError):
        return None


def _fail(reason: str, line: int, column: int, text: str) -> Iec21ParseError:
    return Iec21ParseError(
        f"data block line {line}, column {column}: {reason}",
        frame=text.encode("ascii", "replace")[:256],
    )


def parse_data_block(block: bytes | str) -> list[DataSet]:
    """Parse the lines of a data block (the bytes between STX and ETX, ``!`` CR LF included).

    Each line holds one or more data sets ``address(value[*unit])`` with any number of further
    ``(…)`` groups; a line of groups without an address (load-profile rows) gives data sets with
    an empty address. Lines after ``!`` are ignored.
    """
    if isinstance(block, bytes):
        if len(block) > MAX_BLOCK:
            raise Iec21ParseError(
                f"data block of {len(block)} bytes is oversized", frame=block[:256]
            )
        try:
            text = block.decode("ascii")
        except UnicodeDecodeError as exc:
            raise Iec21ParseError(
                f"data block byte {exc.start} is not ASCII", frame=block[:256]
            ) from None
    else:
        text = block
    datasets: list[DataSet] = []
    for number_, raw_line in enumerate(text.split("\n"), start=1):
        line = raw_line.rstrip("\r")
        if line.startswith("!"):
            break
        if not line.strip():
            continue
        position = 0
        while position < len(line):
            open_at = line.find("(", position)
            if open_at < 0:
                raise _fail("text after the last value", number_, position + 1, line)
            address = line[position:open_at].strip()
            if ")" in address:
                raise _fail(f"bad address {address!r}", number_, position + 1, line)
            values = []
            cursor = open_at
            while cursor < len(line) and line[cursor] == "(":
                close_at = line.find(")", cursor)
                if close_at < 0:
                    raise _fail("'(' without ')'", number_, cursor + 1, line)
                inner = line[cursor + 1 : close_at]
                if "(" in inner:
                    raise _fail("'(' inside a value", number_, cursor + 1, line)
                value, star, unit = inner.partition("*")
                if star and not unit:
                    raise _fail("'*' without a unit", number_, cursor + 1, line)
                values.append(DataValue(value.strip(), unit.strip() or None))
                cursor = close_at + 1
            datasets.append(DataSet(address, obis_of(address), tuple(values), number_))
            position = cursor
    return datasets


def number(text: str) -> tuple[int, int] | None:
    """``"004123.456"`` → ``(4123456, -3)``: an exact integer and its decimal scaler."""
    if not _NUMBER.match(text):
        return None
    whole, _, fraction = text.partition(".")
    return int(whole + fraction), -len(fraction)


def parse_timestamp(text: str, zone: tzinfo) -> datetime | None:
    """``26-11-26 12:15`` (or ``YYMMDDhhmm[ss]``) in the meter's zone → aware datetime."""
    match = _TIME.match(text.strip()) or _COMPACT.match(text.strip())
    if not match:
        return None
    year, month, day, hour, minute = (int(part) for part in match.groups()[:5])
    second = int(match.group(6) or 0)
    try:
        return datetime(2000 + year, month, day, hour, minute, second, tzinfo=zone)
    except ValueError:
        return None
