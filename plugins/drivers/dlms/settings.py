"""The settings of the ``dlms`` driver: one pydantic model, checked before any line is opened.

Every setting, its default and meaning is in :class:`DlmsSettings` (and ``docs/drivers/dlms.md``).
The secrets — ``password`` (LLS), ``authentication_key``, ``block_cipher_key`` and the client
``system_title`` (HLS) — are declared with their sizes, so the inventory keeps them in the
encrypted credential store and no message ever shows them.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from meterhub.errors import InvalidValue
from meterhub.extensions.driverkit import PluginSettings, WholeNumber, secret, session_counter
from meterhub.identifiers import canonical_obis
from meterhub.plugins.drivers.dlms.addressing import server_address
from meterhub.plugins.drivers.dlms.classes import (
    ObjectList,
    parse_object_classes,
    parse_short_names,
)
from meterhub.plugins.drivers.dlms.events import event_tables
from meterhub.plugins.drivers.dlms.mechanisms import PASSWORD_MECHANISMS, canonical_mechanism

__all__ = [
    "ACTIVITY_CALENDAR",
    "CLOCK",
    "DISCONNECT_CONTROL",
    "IMAGE_TRANSFER",
    "INVOCATION_COUNTER",
    "LIMITER",
    "DlmsSettings",
]

CLOCK = "0-0:1.0.0*255"
DISCONNECT_CONTROL = "0-0:96.3.10*255"
LIMITER = "0-0:17.0.0*255"
ACTIVITY_CALENDAR = "0-0:13.0.0*255"
IMAGE_TRANSFER = "0-0:44.0.0*255"

INVOCATION_COUNTER = "0-0:43.1.0*255"

_OBIS_SETTINGS = (
    "image_transfer", "load_profile", "event_log", "daily_profile", "monthly_profile",
    "invocation_counter_object",
)  # fmt: skip


class DlmsSettings(PluginSettings):
    """Settings of the ``dlms`` driver (all optional; secrets as the authentication needs)."""

    framing: Literal["wrapper", "hdlc"] | None = Field(
        None, description="wrapper (default over TCP) or hdlc (default over a serial line)"
    )
    referencing: Literal["ln", "sn"] = Field(
        "ln", description="ln (logical names) or sn (short names: base names, class 12)"
    )
    client_address: WholeNumber = Field(16, ge=1, le=0x7F, description="client SAP")
    logical_address: WholeNumber = Field(
        1, ge=0, le=0x3FFF, description="server logical device (1: management)"
    )
    physical_address: WholeNumber = Field(
        17, ge=0, le=0x3FFF, description="server physical address (HDLC lower address)"
    )
    address_size: WholeNumber = Field(
        0, description="HDLC server address bytes: 1, 2, 4 or 0 (2, or 4 when a part is > 127)"
    )
    authentication: Literal[
        "none", "low", "manufacturer", "md5", "sha1", "gmac", "high", "sha256"
    ] = Field(
        "none",
        description="mechanism: none, low (LLS password), HLS manufacturer (2), md5 (3), "
        "sha1 (4), gmac or high (5), sha256 (6)",
    )
    password: str | None = secret(
        max_length=64, description="LLS password, or the HLS secret (mechanisms 2, 3, 4, 6)"
    )
    authentication_key: bytes | None = secret(
        encoding="hex", sizes=(16, 32), description="HLS authentication key (AK)"
    )
    block_cipher_key: bytes | None = secret(
        encoding="hex", sizes=(16, 32), description="HLS block cipher key (EK)"
    )
    system_title: bytes | None = secret(
        encoding="hex", sizes=(8,), description="the client's system title (16 hex digits)"
    )
    security: (
        Literal["none", "authentication", "encryption", "authentication_encryption"] | None
    ) = Field(
        None,
        description="security policy of ciphered APDUs (default: authentication_encryption "
        "with gmac, none with the other mechanisms)",
    )
    security_suite: WholeNumber = Field(
        0, ge=0, le=2, description="security suite of ciphered APDUs and GMAC (0, 1 or 2)"
    )
    invocation_counter: WholeNumber = session_counter(
        1, maximum=0xFFFFFFFF, description="the next HLS frame counter"
    )
    invocation_counter_object: str = Field(
        INVOCATION_COUNTER,
        description="frame counter object (class 1) the public client reads to resynchronise",
    )
    invocation_counter_resync: bool = Field(
        True, description="on a refused HLS association, read the meter's counter and retry once"
    )
    public_client_address: WholeNumber = Field(
        16, ge=1, le=0x7F, description="client SAP without authentication (counter reads)"
    )
    timeout: float = Field(5.0, ge=1, le=600, description="seconds per answer")
    max_pdu: WholeNumber = Field(1024, ge=64, le=65535, description="max receive PDU size")
    get_with_list: bool = Field(
        True, description="read several attributes with one GET-request-with-list when the "
        "meter offers it (multiple-references)",
    )  # fmt: skip
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
    object_classes: str = Field(
        "", description="interface classes of codes that differ from the OBIS conventions: "
        "OBIS=class, comma separated",
    )  # fmt: skip
    object_list: str | None = Field(
        None, description="the meter's object list as read_object_list() left it in state "
        "(read time; class/version OBIS; ...)",
    )  # fmt: skip
    short_names: str = Field(
        "", description="base names of objects (short name referencing): OBIS=base name, "
        "comma separated; the object list gives the others",
    )  # fmt: skip
    object_list_on_demand: bool = Field(
        True, description="read the object list once in a session when a code's class is "
        "unknown or the conventions' class is refused",
    )  # fmt: skip
    event_table: str = Field(
        "standard", description="event code table of the meter type (texts of read_events)"
    )
    logical_device_name: str | None = Field(
        None, max_length=64, description="the meter's logical device name (0-0:42.0.0), which "
        "names a meter that calls in",
    )  # fmt: skip
    server_system_title: str | None = Field(
        None, pattern=r"^[0-9A-Fa-f]{16}$", description="the meter's own system title "
        "(16 hex digits), which names a meter that calls in",
    )  # fmt: skip
    push_objects: str = Field(
        "", description="capture objects of the meter's push setups: class/OBIS/attribute, "
        "comma separated; several push setups separated by ;",
    )  # fmt: skip

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

    @field_validator("object_classes")
    @classmethod
    def _classes(cls, value: str) -> str:
        classes = parse_object_classes(value)
        return ",".join(f"{obis}={class_id}" for obis, class_id in classes.items())

    @field_validator("short_names")
    @classmethod
    def _short_names(cls, value: str) -> str:
        names = parse_short_names(value)
        return ",".join(f"{obis}=0x{name:04X}" for obis, name in names.items())

    @field_validator("object_list")
    @classmethod
    def _object_list(cls, value: str | None) -> str | None:
        if value is not None:
            ObjectList.parse(value)
        return value

    @field_validator("push_objects")
    @classmethod
    def _push_objects(cls, value: str) -> str:
        from meterhub.plugins.drivers.dlms.push import parse_push_objects

        layouts = parse_push_objects(value)
        return ";".join(",".join(f"{c}/{o}/{a}" for c, o, a in layout) for layout in layouts)

    @field_validator("server_system_title")
    @classmethod
    def _title(cls, value: str | None) -> str | None:
        return value.upper() if value is not None else None

    @field_validator("event_table")
    @classmethod
    def _event_table(cls, value: str) -> str:
        known = event_tables()
        if value not in known:
            raise InvalidValue(
                "settings.event_table", f"unknown table {value!r}; known: {', '.join(known)}"
            )
        return value

    @model_validator(mode="after")
    def _addresses(self) -> DlmsSettings:
        server_address(self.logical_address, self.physical_address, self.address_size)
        return self

    @model_validator(mode="after")
    def _credentials(self) -> DlmsSettings:
        mechanism = self.authentication
        if self.referencing == "sn" and self.effective_security != "none":
            raise InvalidValue(
                "settings.security",
                "short name referencing cannot be ciphered: gurux-dlms' client cannot cipher "
                "an SN request (defect 39; use security=none)",
            )
        if mechanism in PASSWORD_MECHANISMS and not self.password:
            raise ValueError(f"password is needed for authentication={mechanism}")
        if mechanism == "manufacturer" and len((self.password or "").encode()) > 16:
            raise ValueError("the secret of authentication=manufacturer is at most 16 bytes")
        needed = []
        if self.ciphered:
            needed = ["authentication_key", "block_cipher_key", "system_title"]
        elif mechanism == "sha256":
            needed = ["system_title"]
        missing = [name for name in needed if getattr(self, name) is None]
        if missing:
            why = f"authentication={mechanism}"
            if self.security not in (None, "none"):
                why += f" with security={self.security}"
            raise ValueError(f"{missing[0]} is needed for {why}")
        size = 32 if self.security_suite == 2 else 16
        for name in ("authentication_key", "block_cipher_key"):
            key = getattr(self, name)
            if self.ciphered and key is not None and len(key) != size:
                raise InvalidValue(
                    f"settings.{name}",
                    f"security suite {self.security_suite} takes {size}-byte keys "
                    f"({size * 2} hex digits)",
                )
        return self

    @property
    def mechanism(self) -> str:
        """The canonical name of :attr:`authentication` (``high`` is ``gmac``)."""
        return canonical_mechanism(self.authentication)

    @property
    def effective_security(self) -> str:
        """:attr:`security`, or its default: ``authentication_encryption`` with GMAC (logical
        names), else ``none``."""
        if self.security is not None:
            return self.security
        if self.mechanism == "gmac" and self.referencing == "ln":
            return "authentication_encryption"
        return "none"

    @property
    def ciphered(self) -> bool:
        """Whether the association uses keys: GMAC, or APDUs ciphered (``security``)."""
        return self.mechanism == "gmac" or self.effective_security != "none"

    @property
    def instantaneous_codes(self) -> list[str]:
        """The OBIS codes of :attr:`instantaneous`."""
        return [code for code in self.instantaneous.split(",") if code]

    @property
    def class_map(self) -> dict[str, int]:
        """:attr:`object_classes` as ``{OBIS: class id}``."""
        return parse_object_classes(self.object_classes)

    @property
    def short_name_map(self) -> dict[str, int]:
        """:attr:`short_names` as ``{OBIS: base name}``."""
        return parse_short_names(self.short_names)

    @property
    def kept_object_list(self) -> ObjectList | None:
        """:attr:`object_list` parsed (cached by its text), or ``None``."""
        return ObjectList.parse(self.object_list) if self.object_list else None

    @property
    def server_address(self) -> tuple[int, int]:
        """``(gurux server address, address size)`` on HDLC (see :mod:`.addressing`)."""
        return server_address(self.logical_address, self.physical_address, self.address_size)
