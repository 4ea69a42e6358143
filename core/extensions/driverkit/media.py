"""Opening a medium by its name, for a driver called without one.

The acquisition engine opens the communication path's medium through the plugin host and hands
it to :meth:`~meterhub.extensions.driver.Driver.connect`. A driver called without one (a script,
a test, ``meterhub`` commands) opens its own with :func:`open_medium`, which finds the medium
class through its entry point in the ``meterhub.media`` group, exactly like the host does, so a
driver never imports a media plugin's module.

:func:`split_settings` separates a mapping that holds both a driver's and a line's settings
(``baudrate`` next to ``authentication``): each part is checked by its own model, and a key
neither knows is refused with the keys both know.
"""

from __future__ import annotations

import importlib.metadata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any, Generic, TypeVar

from meterhub.errors import InvalidValue
from meterhub.extensions.medium import Medium
from meterhub.extensions.settings import PluginSettings
from meterhub.extensions.trace import FrameTrace

__all__ = [
    "MEDIA_GROUP",
    "Line",
    "line_kind",
    "line_settings",
    "medium_class",
    "open_line",
    "open_medium",
    "split_settings",
]

#: The entry-point group of media plugins.
MEDIA_GROUP = "meterhub.media"

S = TypeVar("S", bound=PluginSettings)


@cache
def medium_class(kind: str) -> type[Medium]:
    """The :class:`Medium` subclass named ``kind`` (``tcp``, ``serial``, ``modem``).

    :raises InvalidValue: no installed plugin contributes a medium of that name.
    """
    for entry in importlib.metadata.entry_points(group=MEDIA_GROUP):
        if entry.name != kind:
            continue
        plugin = entry.load()
        instance = plugin() if isinstance(plugin, type) else plugin
        for medium in instance.register_media() or ():
            if isinstance(medium, type) and issubclass(medium, Medium) and medium.name == kind:
                return medium
    raise InvalidValue("medium", f"no installed plugin provides the medium {kind!r}")


def line_settings(kind: str, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    """The part of ``settings`` that the medium ``kind`` declares (the rest is the driver's)."""
    model = medium_class(kind).settings_model
    known = model.model_fields if model is not None else {}
    return {key: value for key, value in (settings or {}).items() if key in known}


def split_settings(
    settings: Mapping[str, Any] | None, driver_model: type[PluginSettings], medium_kind: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(driver part, medium part)`` of ``settings``; a key neither model knows is refused.

    Only the keys are checked here; the medium checks its part's values when it is created.
    """
    medium_model = medium_class(medium_kind).settings_model or PluginSettings
    driver_part: dict[str, Any] = {}
    medium_part: dict[str, Any] = {}
    for key, value in (settings or {}).items():
        if key in driver_model.model_fields:
            driver_part[key] = value
        elif key in medium_model.model_fields:
            medium_part[key] = value
        else:
            known = ", ".join(sorted({*driver_model.model_fields, *medium_model.model_fields}))
            raise InvalidValue("settings", f"unknown setting {key!r}; known: {known}")
    return driver_part, medium_part


def open_medium(
    kind: str,
    address: str,
    settings: Mapping[str, Any] | None = None,
    *,
    timeout: float,
    trace: FrameTrace | None = None,
) -> Medium:
    """Create the medium ``kind`` for ``address`` and open it within ``timeout`` seconds.

    :raises InvalidValue: unknown medium, bad address or setting (nothing is opened).
    :raises ~meterhub.extensions.driver.LinkLost: the line could not be opened.
    """
    medium = medium_class(kind)(address, settings, trace if trace is not None else FrameTrace())
    try:
        medium.open(timeout)
    except BaseException:
        medium.close()
        raise
    return medium


def line_kind(address: str) -> str:
    """``tcp`` for ``host:port`` (``[v6]:port``), else ``serial`` (a device path or ``COM3``)."""
    text = address.strip() if isinstance(address, str) else ""
    host, sep, port = text.rpartition(":")
    return "tcp" if sep and host and port.isdigit() and not text.startswith("/") else "serial"


@dataclass(frozen=True)
class Line(Generic[S]):
    """A driver's parsed settings and the medium its session runs over.

    ``owned`` says the driver opened the medium itself and closes it with the session; a
    medium the core handed over belongs to the core.
    """

    options: S
    medium: Medium
    owned: bool


def open_line(
    address: str,
    settings: Mapping[str, Any] | None,
    model: type[S],
    medium: Medium | None = None,
    *,
    serial_defaults: Mapping[str, str] | None = None,
    timeout: float | Callable[[S], float] | None = None,
) -> Line[S]:
    """The settings parsed by ``model`` and the line: ``medium`` when given, else opened here.

    Everything is checked before anything is opened: the keys (a driver's or its line's), then
    the driver's values, then the line's (by the medium). Without ``medium`` the driver opens
    ``tcp`` for ``host:port`` and ``serial`` otherwise, with ``serial_defaults`` for what the
    settings leave open (IEC 62056-21 signs on at 300 Bd 7E1), within ``timeout`` seconds
    (default: the settings' own ``timeout``, else 5).
    """
    kind = medium.name if medium is not None else line_kind(address)
    own_part, line_part = split_settings(settings, model, kind)
    options = model.parse(own_part)
    if medium is not None:
        return Line(options, medium, owned=False)
    if kind == "serial" and serial_defaults:
        line_part = {**serial_defaults, **line_part}
    if callable(timeout):
        seconds = timeout(options)
    else:
        seconds = timeout if timeout is not None else float(getattr(options, "timeout", 5.0))
    return Line(options, open_medium(kind, address.strip(), line_part, timeout=seconds), True)
