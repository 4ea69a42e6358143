"""Opening one wireless telegram: addresses, the transport and authentication layers, security.

After the link layer (:mod:`.link`) a telegram is ``L C M M A A A A V T CI ...``. This module
understands the CIs a meter sends on its own:

* ``7Ah`` short transport header: access number, status, configuration field (security mode
  and the number of encrypted 16-byte blocks), for mode 7 the configuration extension;
* ``72h`` long transport header: the same after the application address (identification,
  manufacturer, version, device type), which then names the meter;
* ``78h`` no transport header (records in clear);
* ``90h`` Authentication and Fragmentation Layer before the transport header (mode 7: message
  counter and MAC; fragmented messages are refused as unsupported);
* ``8Ch`` short extended link layer (communication control, access number) before any of them.

:func:`open_telegram` returns an :class:`Opened` telegram with the records' bytes in clear, or
raises :class:`~.status.TelegramError` with the status to record (wrong key, replay, ...).
Replays are judged per meter by :class:`ReplayGuard`: the access number must move on (a step of
1..128 modulo 256); a mode 7 counter must grow.
"""

from __future__ import annotations

from dataclasses import dataclass

from meterhub.plugins.drivers.mbus.wireless.security import MeterKey, cbc_decrypt, cmac_tag
from meterhub.plugins.drivers.mbus.wireless.status import Status, TelegramError

__all__ = ["Address", "Opened", "ReplayGuard", "open_telegram", "read_address"]

_CHECK = b"\x2f\x2f"


@dataclass(frozen=True, slots=True)
class Address:
    """Who sent a telegram: manufacturer code, identification (4 raw bytes), version, type."""

    manufacturer: int
    identification: bytes
    version: int
    medium: int

    @property
    def meter_id(self) -> str:
        """The 8-digit identification number."""
        return self.identification[::-1].hex().upper()

    @property
    def letters(self) -> str:
        """The 3-letter manufacturer code."""
        code = self.manufacturer
        return "".join(chr(((code >> shift) & 0x1F) + 64) for shift in (10, 5, 0))

    @property
    def raw(self) -> bytes:
        """Manufacturer and address as on the wire (8 bytes: the mode 5 IV's first half)."""
        return (
            self.manufacturer.to_bytes(2, "little")
            + self.identification
            + bytes([self.version, self.medium])
        )


def read_address(frame: bytes) -> Address:
    """The link layer address of a frame without CRCs."""
    return Address(int.from_bytes(frame[2:4], "little"), frame[4:8], frame[8], frame[9])


@dataclass(slots=True)
class Opened:
    """A telegram that passed every check: its sender and the records' bytes in clear."""

    address: Address
    access: int
    status: int
    mode: int
    counter: int | None
    records: bytes


class ReplayGuard:
    """The last access number (and mode 7 counter) taken per meter."""

    __slots__ = ("access", "counter")

    def __init__(self, access: int | None = None, counter: int | None = None) -> None:
        self.access = access
        self.counter = counter

    def check(self, access: int, counter: int | None) -> None:
        """Raise ``REPLAYED``/``OUT_OF_ORDER`` for a telegram seen before; else remember it."""
        if counter is not None and self.counter is not None and counter <= self.counter:
            raise TelegramError(
                Status.REPLAYED, f"message counter {counter} is not above {self.counter}"
            )
        if self.access is not None:
            step = (access - self.access) & 0xFF
            if step == 0:
                raise TelegramError(Status.REPLAYED, f"access number {access} again")
            if step > 128:
                raise TelegramError(
                    Status.OUT_OF_ORDER, f"access number {access} is older than {self.access}"
                )
        self.access = access
        if counter is not None:
            self.counter = counter


def _need(frame: bytes, end: int, what: str) -> None:
    if len(frame) < end:
        raise TelegramError(
            Status.TRUNCATED, f"{what} needs {end} bytes, the frame has {len(frame)}"
        )


def open_telegram(frame: bytes, key: MeterKey | None, guard: ReplayGuard | None) -> Opened:
    """Check and decrypt ``frame`` (without CRCs); see the module docstring.

    ``key`` is the meter's key (``None``: none configured); ``guard`` its replay state.
    """
    _need(frame, 11, "the link header")
    address = read_address(frame)
    position = 10
    ci = frame[position]
    if ci == 0x8C:  # ELL I: CC, ACC
        _need(frame, position + 4, "the extended link layer")
        position += 3
        ci = frame[position]
    mcl = counter_bytes = mac = None
    afl_fields = b""
    if ci == 0x90:
        _need(frame, position + 2, "the AFL")
        length = frame[position + 1]
        _need(frame, position + 2 + length, "the AFL")
        body = frame[position + 2 : position + 2 + length]
        if len(body) < 2:
            raise TelegramError(Status.MALFORMED, "AFL without its fragmentation control")
        fcl = int.from_bytes(body[:2], "little")
        if fcl & 0xFF or fcl & (1 << 14):
            raise TelegramError(Status.UNSUPPORTED, "fragmented messages are not supported")
        cursor = 2
        if fcl & (1 << 13):
            mcl = body[cursor]
            cursor += 1
        key_info = b""
        if fcl & (1 << 9):
            key_info = body[cursor : cursor + 2]
            cursor += 2
        if fcl & (1 << 11):
            counter_bytes = body[cursor : cursor + 4]
            cursor += 4
        if fcl & (1 << 10):
            size = {3: 2, 4: 4, 5: 8, 6: 12, 7: 16}.get((mcl or 0) & 0x0F)
            if mcl is None or size is None:
                raise TelegramError(Status.UNSUPPORTED, "AFL MAC of an unsupported type")
            mac = body[cursor : cursor + size]
            cursor += size
        message_length = b""
        if fcl & (1 << 12):
            message_length = body[cursor : cursor + 2]
            cursor += 2
        if cursor != len(body):
            raise TelegramError(Status.MALFORMED, "AFL length does not match its fields")
        afl_fields = (
            (bytes([mcl]) if mcl is not None else b"")
            + key_info
            + (counter_bytes or b"")
            + message_length
        )
        position += 2 + length
        _need(frame, position + 1, "the transport layer")
        ci = frame[position]
    tpl_start = position
    if ci == 0x78:  # no transport header, no access number: nothing to check for replays
        return Opened(address, -1, 0, 0, None, frame[position + 1 :])
    if ci == 0x72:
        _need(frame, position + 13, "the long transport header")
        long = frame[position + 1 : position + 9]
        address = Address(int.from_bytes(long[4:6], "little"), long[0:4], long[6], long[7])
        position += 8
    elif ci != 0x7A:
        raise TelegramError(Status.UNSUPPORTED, f"CI {ci:02X}h is not supported")
    _need(frame, position + 5, "the transport header")
    access, status = frame[position + 1], frame[position + 2]
    config = int.from_bytes(frame[position + 3 : position + 5], "little")
    mode = (config >> 8) & 0x1F
    blocks = (config >> 4) & 0x0F
    position += 5
    counter = int.from_bytes(counter_bytes, "little") if counter_bytes is not None else None
    if mode == 0:
        if guard is not None:
            guard.check(access, counter)
        return Opened(address, access, status, 0, counter, frame[position:])
    if mode == 7:
        _need(frame, position + 1, "the configuration extension")
        extension = frame[position]
        position += 1
        if (extension >> 4) & 0x03 != 1:
            raise TelegramError(Status.UNSUPPORTED, "mode 7 without key derivation A")
    elif mode != 5:
        raise TelegramError(Status.UNSUPPORTED, f"security mode {mode} is not supported")
    if key is None:
        raise TelegramError(Status.UNKNOWN_METER, f"no key for meter {address.meter_id}")
    size = blocks * 16
    _need(frame, position + size, f"{blocks} encrypted blocks")
    encrypted, rest = frame[position : position + size], frame[position + size :]
    if mode == 5:
        clear = key.decrypt_cbc(address.raw + bytes([access]) * 8, encrypted)
    else:
        if counter_bytes is None or mac is None:
            raise TelegramError(Status.MALFORMED, "mode 7 without an AFL counter and MAC")
        encryption_key, mac_key = key.derive(counter_bytes, address.identification)
        expected = cmac_tag(mac_key, afl_fields + frame[tpl_start:])[: len(mac)]
        if expected != mac:
            raise TelegramError(Status.WRONG_KEY, "the MAC does not verify (wrong key or altered)")
        clear = cbc_decrypt(encryption_key, bytes(16), encrypted)
    if clear[:2] != _CHECK:
        raise TelegramError(Status.WRONG_KEY, "decrypted data does not start with 2F 2F")
    if guard is not None:
        guard.check(access, counter)
    return Opened(address, access, status, mode, counter, clear[2:] + rest)
