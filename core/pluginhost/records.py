"""What the plugin host reports: a record per plugin, name conflicts, the strict-mode error.

Also :class:`LicenseLike`, the little the host needs of a license.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any, Literal, Protocol

from meterhub.errors import MeterHubError

__all__ = ["Conflict", "LicenseLike", "PluginLoadError", "PluginRecord", "Status"]

#: What happened to a plugin.
Status = Literal["loaded", "refused", "failed"]


class LicenseLike(Protocol):
    """What the plugin host needs of a license (:class:`meterhub.licensing.License` fits)."""

    @property
    def customer(self) -> str:
        """Who the license is for."""
        ...

    @property
    def development(self) -> bool:
        """Whether this is the development license (no license file)."""
        ...

    def allows(self, feature: str) -> bool:
        """Whether ``feature`` is enabled."""
        ...


@dataclass(frozen=True, slots=True, kw_only=True)
class PluginRecord:
    """What happened to one plugin while the host was built.

    ``status`` is ``loaded``, ``refused`` (the license does not enable ``feature``, or
    ``plugins_only`` does not list it) or ``failed`` (it did not import, could not be
    instantiated or registered); ``reason`` says why in words a user can act on, and is empty
    for a plain load. ``distribution`` and ``version`` name the installed distribution the
    entry point comes from (``None`` for ``extra_plugins``); ``target`` is the entry point's
    ``module:attribute``. ``feature`` is ``None`` when the plugin was never loaded or, for an
    extra plugin, declares none. Build one with keywords only.
    """

    group: str
    name: str
    distribution: str | None
    version: str | None
    feature: str | None
    status: Status
    reason: str = ""
    target: str = ""

    def describe(self) -> str:
        """``group:name (distribution version)`` for messages."""
        origin = f" ({self.distribution} {self.version})" if self.distribution else ""
        return f"{self.group}:{self.name}{origin}"

    def as_dict(self) -> dict[str, Any]:
        """The record as JSON-ready data."""
        return asdict(self)


@dataclass(frozen=True, slots=True, kw_only=True)
class Conflict:
    """Two plugins contributed the same name; ``used`` won and ``ignored`` was left out.

    ``used`` and ``ignored`` describe the plugins as ``group:name (distribution version)``.
    """

    kind: str
    name: str
    used: str
    ignored: str

    def describe(self) -> str:
        """One line for logs and the ``plugins`` command."""
        return (
            f"{self.kind} {self.name!r} is contributed by {self.used} and by {self.ignored}; "
            f"using the one from {self.used}"
        )


class PluginLoadError(MeterHubError):
    """Plugins failed to load while ``plugins_strict`` is set; ``records`` lists them."""

    def __init__(self, records: Sequence[PluginRecord]) -> None:
        details = "; ".join(f"{record.describe()}: {record.reason}" for record in records)
        count = len(records)
        super().__init__(
            f"{count} plugin{'s' if count != 1 else ''} failed to load (plugins_strict is "
            f"set): {details}"
        )
        self.records = tuple(records)
