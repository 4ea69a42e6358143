"""What happened to a telegram: taken, or why not (stored as such, never as data)."""

from __future__ import annotations

from enum import IntEnum

__all__ = ["Status", "TelegramError"]


class Status(IntEnum):
    """The outcome of one telegram (the values are stable: they are stored as ``uint8``)."""

    #: Decoded (and decrypted and authenticated where it was protected): its values count.
    OK = 0
    #: A link layer CRC is wrong.
    CRC_ERROR = 1
    #: Fewer bytes than the L field or a layer header says.
    TRUNCATED = 2
    #: Lengths or fields that cannot be right (extra bytes, unknown CI, bad AFL).
    MALFORMED = 3
    #: A meter that is not configured (no key, not in the inventory): listed as heard.
    UNKNOWN_METER = 4
    #: The key does not decrypt the telegram (no 2F 2F) or its MAC does not verify.
    WRONG_KEY = 5
    #: The same access number (or a mode 7 counter not above the last) again.
    REPLAYED = 6
    #: An access number older than the last one taken.
    OUT_OF_ORDER = 7
    #: A security mode, layer or frame this decoder does not handle.
    UNSUPPORTED = 8


class TelegramError(Exception):
    """A telegram that cannot be taken, with its :class:`Status` and a reason."""

    def __init__(self, status: Status, reason: str) -> None:
        super().__init__(f"{status.name.lower()}: {reason}")
        self.status = status
        self.reason = reason
