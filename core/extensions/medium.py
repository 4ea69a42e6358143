"""Communication media: the transports a driver talks over (TCP, serial line, modem).

A :class:`Medium` subclass is one kind of transport; an instance is one line to one device. The
core creates it with the path's address and settings (no I/O in the constructor), calls
:meth:`Medium.open`, hands it to :meth:`meterhub.extensions.driver.Driver.connect` and closes
it after the session. A medium moves bytes and knows nothing of protocols. When the line drops
it raises :class:`~meterhub.extensions.driver.LinkLost`, like a driver does.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Any, ClassVar, Self

from meterhub.extensions.settings import PluginSettings
from meterhub.extensions.trace import FrameTrace

__all__ = ["Medium"]


class Medium(ABC):
    """A byte transport to one device.

    A subclass sets :attr:`name` (``tcp``, ``serial``, ``modem``), :attr:`description`,
    :attr:`address_syntax` and :attr:`settings_model` (its settings, parsed into
    :attr:`options` by the constructor). Instances are used by one thread at a time.
    """

    #: The contribution hook that collects subclasses (see :mod:`meterhub.hookspecs`).
    hook: ClassVar[str] = "register_media"
    #: The class attribute that names a contribution (:attr:`name`).
    key: ClassVar[str] = "name"
    #: The short name that communication paths use to pick the medium.
    name: ClassVar[str]
    #: One line for people choosing a medium.
    description: ClassVar[str] = ""
    #: What an address looks like (``"host:port"``, ``"/dev/ttyUSB0"``, ``"+420123456789"``).
    address_syntax: ClassVar[str] = ""
    #: The medium's settings declaration; ``None`` leaves :attr:`settings` unparsed.
    settings_model: ClassVar[type[PluginSettings] | None] = None

    def __init__(
        self,
        address: str,
        settings: Mapping[str, Any] | None = None,
        trace: FrameTrace | None = None,
    ) -> None:
        """Remember where to connect and parse the settings; do no I/O here.

        With a ``trace``, implementations record every write with ``trace.sent`` and every
        non-empty read with ``trace.received``.

        :raises meterhub.errors.InvalidValue: a setting is unknown or malformed.
        """
        self.address = address
        self.settings: Mapping[str, Any] = MappingProxyType(dict(settings or {}))
        #: The parsed settings (an instance of :attr:`settings_model`, or ``None``).
        self.options: Any = (
            self.settings_model.parse(self.settings) if self.settings_model is not None else None
        )
        self.trace = trace

    @abstractmethod
    def open(self, timeout: float) -> None:
        """Establish the line within ``timeout`` seconds; raise ``LinkLost`` if that fails."""

    @abstractmethod
    def read(self, size: int, timeout: float) -> bytes:
        """Return up to ``size`` bytes, waiting at most ``timeout`` seconds.

        Returns what arrived in time, possibly ``b""``; a timeout is not an error here, the
        driver decides what it means.
        """

    @abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of ``data``."""

    @abstractmethod
    def close(self) -> None:
        """Release the line; never raises and may be called twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
