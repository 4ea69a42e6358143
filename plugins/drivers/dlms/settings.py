"""The settings of the ``dlms`` driver: one pydantic model, checked before any line is opened.

Every setting, its default and meaning is in :class:`DlmsSettings` (and ``docs/drivers/dlms.md``).
The secrets — ``password`` (LLS), ``authentication_key``, ``block_cipher_key`` and the client
``system_title`` (HLS) — are declared with their sizes, so the inventory keeps them in the
encrypted credential store and no message ever shows them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from meterhub.extensions.driverkit import PluginSettings, WholeNumber, secret, session_counter
from meterhub.identifiers import canonical_obis

__all__ = [
    "ACTIVITY_CALENDAR",
    "CLOCK",
    "DISCONNECT_CONTROL",
    "IMAGE_TRANSFER",
    "LIMITER",
    "DlmsSettings",
]

CLOCK = "0-0:1.0.0*255"
DISCONNECT_CONTROL = "0-0:96.3.10*255"
LIMITER = "0-0:17.0.0*255"
ACTIVITY_CALENDAR = "0-0:13.0.0*255"
IMAGE_TRANSFER = "0-0:44.0.0*255"

_OBIS_SETTINGS = (
    "image_transfer", "load_profile", "event_log", "daily_profile", "monthly_profile",
)  # fmt: skip


class DlmsSettings(PluginSettings):
    """Settings of the ``dlms`` driver (all optional; secrets as the authentication needs)."""

    framing: Literal["wrapper", "hdlc"] | None = Field(
        None, description="wrapper (default over TCP) or hdlc (default over a serial line)"
    )
    client_address: WholeNumber = Field(16, ge=1, le=0x7F, description="client SAP")
    logical_address: WholeNumber = Field(
        1, ge=0, le=0x3FFF, description="server logical device (1: management)"
    )
    physical_address: WholeNumber = Field(
        17, ge=0, le=0x3FFF, description="server physical address (HDLC)"
    )
    authentication: Literal["none", "low", "high"] = Field(
        "none", description="none, low (password) or high (HLS GMAC, suite 0)"
    )
    password: str | None = secret(max_length=64, description="LLS password")
    authentication_key: bytes | None = secret(
        encoding="hex", sizes=(16, 32), description="HLS authentication key (AK)"
    )
    block_cipher_key: bytes | None = secret(
        encoding="hex", sizes=(16, 32), description="HLS block cipher key (EK)"
    )
    system_title: bytes | None = secret(
        encoding="hex", sizes=(8,), description="the client's system title (16 hex digits)"
    )
    security: Literal["none", "authentication", "encryption", "authentication_encryption"] = Field(
        "authentication_encryption", description="security policy of ciphered APDUs"
    )
    invocation_counter: WholeNumber = session_counter(
        1, maximum=0xFFFFFFFF, description="the next HLS frame counter"
    )
    timeout: float = Field(5.0, ge=1, le=600, description="seconds per answer")
    max_pdu: WholeNumber = Field(1024, ge=64, le=65535, description="max receive PDU size")
    image_transfer: str = Field(IMAGE_TRANSFER, description="image transfer object (class 18)")
    firmware_timeout: float = Field(
        120, ge=1, le=86_400, description="seconds the meter has to verify and activate"
    )
    load_profile: str = Field("1-0:99.1.0*255", description="load profile (class 7)")
    event_log: str = Field("0-0:99.98.0*255", description="standard event log (class 7)")
    daily_profile: str = Field("1-0:98.2.0*255", description="daily billing profile")
    monthly_profile: str = Field("1-0:98.1.0*255", description="monthly billing profile")
    instantaneous: str = Field(
        "1-0:1.7.0*255,1-0:32.7.0*255,1-0:31.7.0*255",
        description="comma list of the registers read_instantaneous reads",
    )

    @field_validator(*_OBIS_SETTINGS)
    @classmethod
    def _obis(cls, value: str, info: object) -> str:
        name = getattr(info, "field_name", "obis")
        return canonical_obis(value, field=f"settings.{name}")

    @field_validator("instantaneous")
    @classmethod
    def _obis_list(cls, value: str) -> str:
        codes = [
            canonical_obis(code.strip(), field="settings.instantaneous")
            for code in value.split(",")
            if code.strip()
        ]
        return ",".join(codes)

    @model_validator(mode="after")
    def _credentials(self) -> DlmsSettings:
        if self.authentication == "low" and not self.password:
            raise ValueError("password is needed for authentication=low")
        if self.authentication == "high":
            missing = [
                name
                for name in ("authentication_key", "block_cipher_key", "system_title")
                if getattr(self, name) is None
            ]
            if missing:
                raise ValueError(f"{missing[0]} is needed for authentication=high")
        return self

    @property
    def instantaneous_codes(self) -> list[str]:
        """The OBIS codes of :attr:`instantaneous`."""
        return [code for code in self.instantaneous.split(",") if code]
