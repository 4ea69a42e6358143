"""Reading the string settings of media and drivers, with errors naming the setting.

Settings arrive as a mapping of strings (configuration, communication paths). Each helper
returns the typed value or the default, and raises :class:`meterhub.errors.InvalidValue` with
the field ``settings.<key>`` and what was expected.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from meterhub.errors import InvalidValue

__all__ = ["bool_setting", "check_known", "choice_setting", "float_setting", "int_setting"]

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off")


def _text(settings: Mapping[str, str], key: str) -> str:
    value = settings.get(key)
    return "" if value is None else str(value).strip()


def bool_setting(settings: Mapping[str, str], key: str, default: bool) -> bool:
    """A yes/no setting: ``true``/``false``, ``1``/``0``, ``yes``/``no``, ``on``/``off``."""
    text = _text(settings, key).lower()
    if not text:
        return default
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise InvalidValue(f"settings.{key}", f"must be true or false, got {text!r}")


def int_setting(
    settings: Mapping[str, str],
    key: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """A whole-number setting, optionally within ``[minimum, maximum]``."""
    text = _text(settings, key)
    if not text:
        return default
    try:
        value = int(text, 0)
    except ValueError:
        raise InvalidValue(f"settings.{key}", f"must be a whole number, got {text!r}") from None
    if (minimum is not None and value < minimum) or (maximum is not None and value > maximum):
        raise InvalidValue(f"settings.{key}", f"must be {minimum}..{maximum}, got {value}")
    return value


def float_setting(
    settings: Mapping[str, str], key: str, default: float, *, minimum: float = 0.0
) -> float:
    """A number setting (seconds, factors) of at least ``minimum``."""
    text = _text(settings, key)
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise InvalidValue(f"settings.{key}", f"must be a number, got {text!r}") from None
    if not value >= minimum:
        raise InvalidValue(f"settings.{key}", f"must be at least {minimum:g}, got {text}")
    return value


def choice_setting(
    settings: Mapping[str, str], key: str, default: str, choices: Collection[str]
) -> str:
    """A setting from a fixed set of words (compared case-insensitively)."""
    text = _text(settings, key)
    if not text:
        return default
    for choice in choices:
        if text.lower() == choice.lower():
            return choice
    raise InvalidValue(f"settings.{key}", f"must be one of {', '.join(choices)}, got {text!r}")


def check_known(settings: Mapping[str, str], known: Collection[str], what: str) -> None:
    """Refuse a setting that ``what`` does not know (a typo would otherwise go unnoticed)."""
    unknown = sorted(set(settings) - set(known))
    if unknown:
        raise InvalidValue(
            "settings", f"{what} has no setting {unknown[0]!r}; known: {', '.join(sorted(known))}"
        )
