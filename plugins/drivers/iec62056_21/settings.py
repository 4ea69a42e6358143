"""Settings of the ``iec62056_21`` driver (one pydantic model; errors as ``InvalidValue``)."""

from __future__ import annotations

import re
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, field_validator

from meterhub.extensions.driverkit import PluginSettings, WholeNumber, secret
from meterhub.plugins.drivers.iec62056_21.protocol import sign_on

__all__ = ["IecSettings", "check_zone", "zone_of"]

#: What a password may hold: printable ASCII without the parentheses that frame it.
_PASSWORD = re.compile(r"^[\x20-\x27\x2a-\x7e]*$")


def check_zone(value: str) -> str:
    """``value`` if it names a time zone; ``ValueError`` otherwise."""
    if value != "UTC":
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
    return value


def zone_of(name: str) -> tzinfo:
    """The zone object of a checked zone name."""
    return UTC if name == "UTC" else ZoneInfo(name)


class IecSettings(PluginSettings):
    """Settings of the ``iec62056_21`` driver."""

    device_address: str = Field(
        "", max_length=32, description="the meter address sent in /?<address>! (empty: any)"
    )
    password: str | None = secret(max_length=32, description="programming-mode password (P1)")
    max_baudrate: WholeNumber = Field(
        19200, ge=300, description="the highest rate to switch to (the meter's offer caps it)"
    )
    timeout: float = Field(
        3.0,
        ge=0.01,
        le=600,
        description="seconds to wait for the first byte of each answer (the meter's reaction)",
    )
    inter_character_timeout: float = Field(
        1.5,
        ge=0.01,
        le=60,
        description="seconds of silence within an answer that end it as failed",
    )
    reaction_time: float | None = Field(
        None, ge=0, le=10, description="seconds before the option select (default 0.02 or 0.2)"
    )
    timezone: str = Field("UTC", description="IANA zone of the meter clock and timestamps")

    @field_validator("device_address")
    @classmethod
    def _address(cls, value: str) -> str:
        sign_on(value)  # raises InvalidValue for characters the protocol cannot carry
        return value

    @field_validator("password")
    @classmethod
    def _password(cls, value: str | None) -> str | None:
        if value is not None and not _PASSWORD.match(value):
            raise ValueError("printable ASCII characters other than '(' and ')' only")
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return check_zone(value)
