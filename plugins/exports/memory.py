"""The memory export destination: keeps delivered payloads in memory, for tests and demos.

An export target ``memory:<mailbox>`` appends each payload to the named mailbox. The mailboxes
belong to the plugin instance, and the plugin host creates one instance per application, so
two applications (or two tests) never see each other's deliveries::

    destination_class = host.exports()["memory"]
    destination_class("demo").deliver(b"...", metadata)
    destination_class.mailbox("demo")        # [Delivery(payload=b"...", ...)]

The entry point ``memory`` in ``meterhub.exports`` names :class:`MemoryExportPlugin`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import ClassVar

from meterhub import hookimpl
from meterhub.extensions.export import ExportDestination, ExportMetadata

__all__ = ["Delivery", "MemoryDestination", "MemoryExportPlugin"]


@dataclass(frozen=True, slots=True)
class Delivery:
    """One delivered payload with its metadata and the reference :meth:`deliver` returned."""

    payload: bytes
    metadata: ExportMetadata
    reference: str


class _Mailboxes:
    """Mailbox name → deliveries, safe to use from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boxes: dict[str, list[Delivery]] = {}

    def add(self, mailbox: str, payload: bytes, metadata: ExportMetadata) -> str:
        with self._lock:
            box = self._boxes.setdefault(mailbox, [])
            reference = f"memory:{mailbox}/{len(box) + 1}"
            box.append(Delivery(bytes(payload), metadata, reference))
            return reference

    def get(self, mailbox: str) -> list[Delivery]:
        with self._lock:
            return list(self._boxes.get(mailbox, ()))

    def names(self) -> list[str]:
        with self._lock:
            return sorted(self._boxes)

    def clear(self) -> None:
        with self._lock:
            self._boxes.clear()


class MemoryDestination(ExportDestination):
    """Delivers payloads to the mailbox named by the target (``memory:demo`` → ``demo``).

    Use the subclass :attr:`MemoryExportPlugin.destination` of a plugin instance (what
    ``host.exports()["memory"]`` returns): it is bound to that instance's mailboxes.
    """

    name: ClassVar[str] = "memory"
    description: ClassVar[str] = "Keeps delivered payloads in memory (tests and demos)"
    _mailboxes: ClassVar[_Mailboxes] = _Mailboxes()

    def deliver(self, payload: bytes, metadata: ExportMetadata) -> str:
        """Append ``payload`` to the mailbox; return ``memory:<mailbox>/<number>``."""
        return self._mailboxes.add(self.target or "default", payload, metadata)

    @property
    def deliveries(self) -> list[Delivery]:
        """What this destination's mailbox holds, oldest first."""
        return self._mailboxes.get(self.target or "default")

    @classmethod
    def mailbox(cls, name: str = "default") -> list[Delivery]:
        """A copy of the deliveries in mailbox ``name``, oldest first."""
        return cls._mailboxes.get(name)

    @classmethod
    def mailbox_names(cls) -> list[str]:
        """The names of the mailboxes that received something."""
        return cls._mailboxes.names()

    @classmethod
    def clear(cls) -> None:
        """Empty every mailbox."""
        cls._mailboxes.clear()


class MemoryExportPlugin:
    """The plugin object of the ``memory`` entry point: contributes a memory destination.

    Each instance has its own mailboxes and its own :class:`MemoryDestination` subclass bound
    to them (:attr:`destination`), so nothing is shared between plugin hosts.
    """

    #: The license feature that enables the memory destination.
    feature = "export:memory"

    def __init__(self) -> None:
        self.destination: type[MemoryDestination] = type(
            "MemoryDestination",
            (MemoryDestination,),
            {"_mailboxes": _Mailboxes(), "__module__": __name__},
        )

    @hookimpl(trylast=True)
    def register_exports(self) -> list[type[ExportDestination]]:
        """Contribute this instance's memory destination."""
        return [self.destination]
