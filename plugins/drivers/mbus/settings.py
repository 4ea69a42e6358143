"""Settings of the ``mbus`` (wired) and ``wmbus`` (wireless) drivers, one pydantic model each.

Every field here is described in ``docs/drivers/mbus.md`` (a test checks that).
"""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator, model_validator

from meterhub.extensions.driverkit import PluginSettings, WholeNumber, secret

__all__ = ["MbusSettings", "WmbusSettings", "check_mask", "check_zone"]

_MASK = re.compile(r"[0-9F]{8}[0-9A-F]{8}")
_ID = re.compile(r"[0-9]{8}")
_MANUFACTURER = re.compile(r"[A-Z]{3}")


def check_zone(value: str) -> str:
    """``value`` if it names a time zone (IANA), else ``ValueError``."""
    if value != "UTC":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
    return value


def check_mask(value: str) -> str:
    """A 16-digit secondary address or search mask (``F`` = any digit), upper case."""
    text = value.strip().upper()
    if not _MASK.fullmatch(text):
        raise ValueError(
            "must be 16 hex digits: identification number (8 digits, F = any), manufacturer "
            "(4), version (2) and medium (2), e.g. 12345678FFFFFFFF"
        )
    return text


class MbusSettings(PluginSettings):
    """Settings of the wired ``mbus`` driver."""

    primary_address: WholeNumber | None = Field(
        None, ge=0, le=254, description="primary address 0..250 (254: the only meter on the line)"
    )
    secondary_address: str | None = Field(
        None, description="16-digit secondary address (ID, manufacturer, version, medium)"
    )
    timeout: float = Field(0.5, gt=0, le=60, description="seconds to wait for an answer")
    retries: WholeNumber = Field(2, ge=0, le=10, description="repeats of an unanswered request")
    bus_baudrate: WholeNumber = Field(
        2400, ge=300, le=38400, description="baud rate on the bus (time budget per frame)"
    )
    max_telegrams: WholeNumber = Field(
        16, ge=1, le=255, description="most telegrams of one multi-telegram readout"
    )
    reset: Literal["snd_nke", "application_reset", "none"] = Field(
        "snd_nke", description="what to send before a readout"
    )
    timezone: str = Field("UTC", description="IANA zone of the meter's clock and dates")

    @field_validator("secondary_address")
    @classmethod
    def _secondary(cls, value: str | None) -> str | None:
        if value is None:
            return None
        mask = check_mask(value)
        if "F" in mask[:8]:
            raise ValueError("a meter's secondary address has no wildcard in its identification")
        return mask

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)

    @model_validator(mode="after")
    def _one_address(self) -> MbusSettings:
        if self.primary_address is not None and self.secondary_address is not None:
            raise ValueError("give primary_address or secondary_address, not both")
        return self


class WmbusSettings(PluginSettings):
    """Settings of the wireless ``wmbus`` driver."""

    meter_id: str = Field(
        ..., description="the meter's 8-digit identification number (as printed on it)"
    )
    manufacturer: str | None = Field(
        None, description="the meter's 3-letter manufacturer code (checked when given)"
    )
    key: bytes | None = secret(
        encoding="hex", sizes=(16,), description="the meter's AES-128 key (OMS modes 5 and 7)"
    )
    listen: float = Field(
        60.0, gt=0, le=86400, description="seconds to listen for the meter's next telegram"
    )
    link_crc: Literal["auto", "a", "b", "none"] = Field(
        "auto", description="CRCs of the receiver's frames: format A, B, stripped, or auto"
    )
    receiver: Literal["lines", "amber"] = Field(
        "lines", description="the receiver's framing: hex lines (TCP/file/UDP) or Amber stick"
    )
    last_access_number: WholeNumber | None = Field(
        None, ge=0, le=255, description="access number of the last telegram taken (state)"
    )
    last_counter: WholeNumber | None = Field(
        None, ge=0, le=0xFFFFFFFF, description="mode 7 message counter last taken (state)"
    )
    timezone: str = Field("UTC", description="IANA zone of the meter's clock and dates")

    @field_validator("meter_id")
    @classmethod
    def _meter_id(cls, value: str) -> str:
        if not _ID.fullmatch(value.strip()):
            raise ValueError("must be the 8-digit identification number, e.g. 12345678")
        return value.strip()

    @field_validator("manufacturer")
    @classmethod
    def _manufacturer(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if not _MANUFACTURER.fullmatch(value.strip().upper()):
            raise ValueError("must be a 3-letter manufacturer code such as KAM")
        return value.strip().upper()

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)
