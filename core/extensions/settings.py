"""Settings of drivers and media: a pydantic model per plugin, one adapter to ``InvalidValue``.

Settings arrive as a mapping of text (a meter's driver settings, a communication path's
settings): ``{"timeout": "5", "authentication": "high"}``. A plugin declares them once as a
subclass of :class:`PluginSettings`; :meth:`PluginSettings.parse` turns the mapping into a typed,
frozen object or raises :class:`meterhub.errors.InvalidValue` naming the setting
(``settings.timeout``) and what was expected. That is the one place where pydantic's
``ValidationError`` becomes MeterHub's error: no plugin writes its own parser.

Rules of the text form, the same for every plugin:

* a key that the model does not declare is refused, with the keys it knows (a typo in a setting
  would otherwise be ignored);
* an empty or blank value means "the default";
* whole numbers may be written in decimal or with a ``0x``/``0o``/``0b`` prefix
  (:data:`WholeNumber`), yes/no as ``true``/``false``, ``yes``/``no``, ``on``/``off``, ``1``/``0``.

**Secrets.** A setting declared with :func:`secret` is a credential (password, key, system
title): the inventory keeps it in the encrypted credential store and refuses it in plain
settings, error messages never show its value, and ``repr`` masks it. :meth:`PluginSettings.secrets`
lists the declarations with their encoding and sizes, so the inventory can check a credential
without knowing the protocol. A hex secret parses to ``bytes`` of one of its declared sizes.

**Session counters.** A whole-number setting declared with :func:`session_counter` (the DLMS HLS
invocation counter) must never repeat a value a meter has seen: the acquisition engine keeps it
in its session state, reserves a block of values before each session and passes the first one as
the setting (:meth:`PluginSettings.session_counters` lists them).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, model_validator
from pydantic.fields import FieldInfo

from meterhub.errors import InvalidValue

__all__ = [
    "PluginSettings",
    "SecretSpec",
    "WholeNumber",
    "invalid_value",
    "parse_whole_number",
    "secret",
    "session_counter",
]

_SECRET_KEY = "meterhub_secret"
_COUNTER_KEY = "meterhub_session_counter"


def parse_whole_number(value: Any) -> Any:
    """Text like ``"16"``, ``"0x10"`` or ``"0b1"`` → ``int``; anything else passes to pydantic."""
    if isinstance(value, str):
        text = value.strip().replace("_", "")
        try:
            return int(text, 0)
        except ValueError:
            return value
    return value


#: An ``int`` setting that also takes ``0x``/``0o``/``0b`` prefixes (addresses are often hex).
WholeNumber = Annotated[int, BeforeValidator(parse_whole_number)]


@dataclass(frozen=True, slots=True)
class SecretSpec:
    """How one secret setting is written: ``hex`` with its allowed sizes, or ``text``.

    ``sizes`` are byte counts a hex secret may have (``(16, 32)`` for AES-128/256 keys, ``(8,)``
    for a DLMS system title); ``max_length`` bounds a text secret (a password).
    """

    name: str
    encoding: Literal["hex", "text"]
    sizes: tuple[int, ...] = ()
    max_length: int | None = None

    def check(self, value: object, field: str | None = None) -> bytes | str:
        """The value in its parsed form, or :class:`InvalidValue` (never showing the value)."""
        where = field or f"settings.{self.name}"
        if self.encoding == "text":
            if not isinstance(value, str) or value == "":
                raise InvalidValue(where, "must be a non-empty text")
            if self.max_length is not None and len(value) > self.max_length:
                raise InvalidValue(where, f"must be at most {self.max_length} characters")
            return value
        text = value.replace(" ", "").replace(":", "") if isinstance(value, str) else None
        try:
            data = bytes.fromhex(text) if text is not None else b""
        except ValueError:
            data = b""
        if not data or (self.sizes and len(data) not in self.sizes):
            wanted = " or ".join(f"{2 * size} hex digits" for size in self.sizes) or "hex digits"
            raise InvalidValue(where, f"must be {wanted}")
        return data


def secret(
    *,
    encoding: Literal["hex", "text"] = "text",
    sizes: tuple[int, ...] = (),
    max_length: int | None = None,
    description: str = "",
) -> Any:
    """Declare a secret setting (default ``None``): ``key: bytes | None = secret(encoding="hex",
    sizes=(16, 32))`` or ``password: str | None = secret(max_length=64)``.

    A hex secret's text is parsed to ``bytes`` and checked against ``sizes``; the value never
    appears in an error message or a ``repr``.
    """
    if encoding not in ("hex", "text"):
        raise ValueError(f"a secret's encoding is hex or text, not {encoding!r}")
    if encoding == "hex" and not sizes:
        raise ValueError("a hex secret declares its sizes in bytes")
    return Field(
        default=None,
        repr=False,
        description=description,
        json_schema_extra={
            _SECRET_KEY: {"encoding": encoding, "sizes": list(sizes), "max_length": max_length}
        },
    )


def session_counter(default: int, *, maximum: int, description: str = "") -> Any:
    """Declare a session counter: a whole number the protocol never repeats (a frame counter).

    ``counter: WholeNumber = session_counter(1, maximum=0xFFFFFFFF)``. The acquisition engine
    reserves blocks of it before sessions (see the module docstring).
    """
    return Field(
        default,
        ge=0,
        le=maximum,
        description=description,
        json_schema_extra={_COUNTER_KEY: True},
    )


def _spec_of(name: str, info: FieldInfo) -> SecretSpec | None:
    extra = info.json_schema_extra
    if not isinstance(extra, dict) or _SECRET_KEY not in extra:
        return None
    declared = extra[_SECRET_KEY]
    assert isinstance(declared, dict)
    sizes = declared["sizes"]
    length = declared["max_length"]
    return SecretSpec(
        name=name,
        encoding="hex" if declared["encoding"] == "hex" else "text",
        sizes=tuple(size for size in sizes if isinstance(size, int))
        if isinstance(sizes, list)
        else (),
        max_length=length if isinstance(length, int) else None,
    )


def invalid_value(
    error: ValidationError, prefix: str, secrets: Mapping[str, SecretSpec]
) -> InvalidValue:
    """The :class:`InvalidValue` for the first problem pydantic found (the one adapter).

    The field is ``<prefix>.<setting>``; the reason is pydantic's message followed by the value
    given, unless the setting is secret.
    """
    problem = error.errors(include_url=False)[0]
    location = [str(part) for part in problem.get("loc", ()) if part != "__root__"]
    name = location[0] if location else ""
    field = f"{prefix}.{name}" if name else prefix
    if problem.get("type") == "value_error" and isinstance(
        problem.get("ctx", {}).get("error"), InvalidValue
    ):
        inner = problem["ctx"]["error"]
        return InvalidValue(inner.field, inner.reason)
    reason = str(problem.get("msg", "is not valid"))
    reason = reason.removeprefix("Value error, ")
    reason = reason[:1].lower() + reason[1:]
    if name and name not in secrets and "input" in problem and problem.get("type") != "missing":
        reason = f"{reason}, got {problem['input']!r}"
    return InvalidValue(field, reason)


#: :meth:`PluginSettings.secrets` per model class (a model's fields never change).
_SECRETS_OF: dict[type, dict[str, SecretSpec]] = {}


class PluginSettings(BaseModel):
    """Base of the settings model of a driver or a medium (see the module docstring).

    A subclass declares each setting as a field with a default and a ``description`` (shown in
    :attr:`~meterhub.extensions.driver.DriverInfo.settings_syntax`)::

        class ModbusSettings(PluginSettings):
            unit: WholeNumber = Field(1, ge=0, le=255, description="Modbus unit id")
            timeout: float = Field(2.0, gt=0, le=600, description="seconds per answer")

    Instances are frozen; :meth:`parse` is the way in.
    """

    model_config = ConfigDict(
        extra="forbid", frozen=True, str_strip_whitespace=True, hide_input_in_errors=True
    )

    #: Where errors point: ``settings.<key>``.
    field_prefix: ClassVar[str] = "settings"

    @model_validator(mode="before")
    @classmethod
    def _blank_is_default(cls, data: Any) -> Any:
        if isinstance(data, Mapping):
            return {
                key: value
                for key, value in data.items()
                if not (value is None or (isinstance(value, str) and not value.strip()))
            }
        return data

    @classmethod
    def known(cls) -> tuple[str, ...]:
        """The names of the settings the model declares."""
        return tuple(cls.model_fields)

    @classmethod
    def secrets(cls) -> dict[str, SecretSpec]:
        """The secret settings by name, with their encoding and sizes.

        Worked out once per model class (``parse`` asks on every call, and a driver opens
        thousands of sessions); each call returns a fresh dict.
        """
        found = _SECRETS_OF.get(cls)
        if found is None:
            found = {}
            for name, info in cls.model_fields.items():
                spec = _spec_of(name, info)
                if spec is not None:
                    found[name] = spec
            _SECRETS_OF[cls] = found
        return dict(found)

    @classmethod
    def session_counters(cls) -> tuple[str, ...]:
        """The settings declared with :func:`session_counter`."""
        return tuple(
            name
            for name, info in cls.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get(_COUNTER_KEY)
        )

    @classmethod
    def parse(cls, settings: Mapping[str, Any] | None = None, *, prefix: str | None = None) -> Self:
        """The typed settings from a mapping of text; :class:`InvalidValue` names what is wrong.

        :param prefix: the field prefix of errors (default :attr:`field_prefix`).
        """
        where = prefix or cls.field_prefix
        data = dict(settings or {})
        unknown = sorted(set(data) - set(cls.model_fields))
        if unknown:
            known = ", ".join(sorted(cls.model_fields)) or "none"
            raise InvalidValue(where, f"unknown setting {unknown[0]!r}; known: {known}")
        secrets = cls.secrets()
        for name, spec in secrets.items():
            value = data.get(name)
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            data[name] = spec.check(value, f"{where}.{name}")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise invalid_value(exc, where, secrets) from None

    @classmethod
    def syntax(cls) -> str:
        """One line per setting: ``key=default  description`` (``key=<secret>`` for secrets)."""
        secrets = cls.secrets()
        lines = []
        for name, info in cls.model_fields.items():
            if name in secrets:
                shown = f"<secret, {secrets[name].encoding}>"
            elif info.is_required():
                shown = "<required>"
            else:
                default = info.get_default(call_default_factory=True)
                shown = "" if default is None else _text(default)
            description = f"  {info.description}" if info.description else ""
            lines.append(f"{name}={shown}{description}")
        return "\n".join(lines)

    def as_text(self) -> dict[str, str]:
        """The settings back as text (secrets left out), e.g. to show or to store."""
        secrets = self.secrets()
        return {
            name: _text(value)
            for name, value in self.model_dump().items()
            if name not in secrets and value is not None
        }


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return f"{value:g}"
    if isinstance(value, tuple | list):
        return ",".join(_text(item) for item in value)
    if hasattr(value, "value") and isinstance(value.value, str):  # enums
        return value.value
    return str(value)
