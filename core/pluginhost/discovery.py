"""Finding plugins: entry points read fresh from importlib.metadata, loaded through stevedore."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Callable, Sequence
from typing import Any

from stevedore.enabled import EnabledExtensionManager
from stevedore.extension import Extension, ExtensionManager

from meterhub.pluginhost.kinds import GROUPS
from meterhub.pluginhost.records import LicenseLike

__all__ = [
    "FreshEntryPointManager",
    "describe_license",
    "distribution_of",
    "entry_points_by_group",
    "error_text",
    "normalize",
]


def error_text(exc: BaseException) -> str:
    """``TypeName: message`` of an exception, for records and logs."""
    return f"{type(exc).__name__}: {exc}"


def distribution_of(entry_point: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    """The name and version of the distribution ``entry_point`` comes from, if known."""
    dist = getattr(entry_point, "dist", None)
    if dist is None:
        return None, None
    return dist.metadata["Name"], dist.version


def normalize(name: str) -> str:
    """A distribution or plugin name compared the way PyPI compares them."""
    return re.sub(r"[-_.]+", "-", name).lower()


def describe_license(license: LicenseLike) -> str:
    """``license L-1 for Acme``: the license's own text, or one built from its fields."""
    if type(license).__str__ is not object.__str__:
        return str(license)
    ident = getattr(license, "license_id", None)
    if ident:
        return f"license {ident} for {license.customer}"
    return f"the license of {license.customer}"


class FreshEntryPointManager(EnabledExtensionManager[Any]):
    """An EnabledExtensionManager over a given list of entry points (no stevedore cache).

    It exists only for the stevedore cache defects described in the package docs, each with a
    canary test in ``tests/plugins/test_stevedore_canary.py``; drop it when both are fixed.
    """

    def __init__(
        self,
        namespace: str,
        entry_points: Sequence[importlib.metadata.EntryPoint],
        check_func: Callable[[Extension[Any]], bool],
        on_load_failure_callback: Callable[
            [ExtensionManager[Any], importlib.metadata.EntryPoint, BaseException], None
        ],
    ) -> None:
        self._given_entry_points = list(entry_points)
        super().__init__(
            namespace,
            check_func=check_func,
            invoke_on_load=False,
            on_load_failure_callback=on_load_failure_callback,
        )

    def list_entry_points(self) -> list[importlib.metadata.EntryPoint]:
        """The entry points given to the constructor, bypassing stevedore's caches."""
        return self._given_entry_points


def entry_points_by_group() -> dict[str, list[importlib.metadata.EntryPoint]]:
    """Every MeterHub entry point by group, read fresh, without duplicates."""
    everything = importlib.metadata.entry_points()
    by_group: dict[str, list[importlib.metadata.EntryPoint]] = {}
    for group in GROUPS:
        seen: set[tuple[str, str]] = set()
        by_group[group] = []
        for entry_point in everything.select(group=group):
            if (entry_point.name, entry_point.value) not in seen:
                seen.add((entry_point.name, entry_point.value))
                by_group[group].append(entry_point)
    return by_group
