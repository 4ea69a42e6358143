"""The license as the rest of MeterHub sees it: who it is for, until when, limits and features.

A :class:`License` is immutable and carries no cryptography: :func:`meterhub.licensing.load_license`
builds one only after the file's signature verified, and :func:`development_license` builds the
one used when no license file is configured.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from fnmatch import fnmatchcase
from pathlib import Path
from types import MappingProxyType
from typing import Any

from meterhub.errors import FeatureNotLicensed, LicenseLimitExceeded

#: The limits a license may set, with the words used in messages. A limit a license does not
#: name is unlimited.
KNOWN_LIMITS: Mapping[str, str] = MappingProxyType(
    {
        "virtual_meters": "virtual meters",
        "named_users": "named users",
    }
)

#: The feature entry that enables every feature.
ALL_FEATURES = "*"

#: Customer name of the license used when no license file is configured.
DEVELOPMENT_CUSTOMER = "Development (no license file)"

#: License id of the development license.
DEVELOPMENT_LICENSE_ID = "development"

#: The limits of the development license: enough to develop and demonstrate, too few for a
#: production system, so removing the license file never lifts a production system's limits.
DEVELOPMENT_LIMITS: Mapping[str, int] = MappingProxyType({"virtual_meters": 50, "named_users": 5})


def _known_limit(name: str) -> str:
    """Return the words for limit ``name``; an unknown name is a programming error."""
    try:
        return KNOWN_LIMITS[name]
    except KeyError:
        known = ", ".join(sorted(KNOWN_LIMITS))
        raise ValueError(f"unknown license limit {name!r}; known limits: {known}") from None


@dataclass(frozen=True)
class License:
    """A verified license (or the development license), immutable.

    ``expires`` is the last day the license is valid (``None``: it never expires). ``limits``
    maps names of :data:`KNOWN_LIMITS` to the highest allowed count; a name that is missing is
    unlimited. ``features`` holds exact feature names (``driver:dlms``, ``tariffs``) and
    :mod:`fnmatch` patterns (``driver:*``, ``*``). ``source`` is the file the license was read
    from, ``None`` for the development license.
    """

    customer: str
    license_id: str
    issued: date
    expires: date | None
    limits: Mapping[str, int] = field(hash=False)
    features: frozenset[str]
    development: bool = False
    source: Path | None = None

    def __post_init__(self) -> None:
        # A read-only copy, so no caller can raise a limit of a shared license object.
        object.__setattr__(self, "limits", MappingProxyType(dict(self.limits)))
        object.__setattr__(self, "features", frozenset(self.features))

    def __str__(self) -> str:
        return f"license {self.license_id} for {self.customer}"

    # -- features ---------------------------------------------------------------------------

    def allows(self, feature: str) -> bool:
        """Whether ``feature`` (an exact name such as ``driver:dlms``) is enabled.

        An entry of the license matches when it equals ``feature`` or, as an :mod:`fnmatch`
        pattern (case-sensitive), matches it: ``*`` enables everything, ``driver:*`` every
        driver.
        """
        if feature in self.features:
            return True
        return any(fnmatchcase(feature, entry) for entry in self.features)

    def require(self, feature: str) -> None:
        """Raise :class:`~meterhub.errors.FeatureNotLicensed` unless ``feature`` is enabled."""
        if not self.allows(feature):
            raise FeatureNotLicensed(
                f"feature {feature!r} is not enabled by {self}; ask your vendor for a license "
                "that includes it"
            )

    # -- limits -----------------------------------------------------------------------------

    def limit(self, name: str) -> int | None:
        """The limit ``name`` (a key of :data:`KNOWN_LIMITS`), ``None`` when unlimited.

        An unknown name raises :class:`ValueError`: it is a programming error, not a license
        problem.
        """
        _known_limit(name)
        return self.limits.get(name)

    def check_limit(self, name: str, would_have: int) -> None:
        """Raise :class:`~meterhub.errors.LicenseLimitExceeded` if ``would_have`` exceeds ``name``.

        ``would_have`` is the count after the intended change (existing plus new), so a caller
        about to create one more virtual meter passes ``count + 1``.
        """
        words = _known_limit(name)
        allowed = self.limits.get(name)
        if allowed is not None and would_have > allowed:
            raise LicenseLimitExceeded(
                f"{self} allows at most {allowed} {words}; this would make {would_have}"
            )

    # -- validity ---------------------------------------------------------------------------

    def days_left(self, today: date | None = None) -> int | None:
        """Days from ``today`` to the last valid day (0 on that day, negative after it).

        ``None`` when the license never expires.
        """
        if self.expires is None:
            return None
        return (self.expires - (today or date.today())).days

    def is_expired(self, today: date | None = None) -> bool:
        """Whether ``today`` (default: the current date) is after the last valid day."""
        left = self.days_left(today)
        return left is not None and left < 0

    # -- display ----------------------------------------------------------------------------

    def summary(self, today: date | None = None) -> list[tuple[str, str]]:
        """Rows ``(label, value)`` describing the license for display, in a fixed order."""
        rows = [
            ("Customer", self.customer),
            ("License ID", self.license_id),
            ("Issued", self.issued.isoformat()),
            ("Expires", self.expires.isoformat() if self.expires else "never"),
            ("Days left", self._days_left_text(today)),
        ]
        for name, words in KNOWN_LIMITS.items():
            allowed = self.limits.get(name)
            rows.append((words.capitalize(), "unlimited" if allowed is None else str(allowed)))
        rows.append(("Features", self._features_text()))
        rows.append(("File", str(self.source) if self.source else "none"))
        if self.development:
            rows.append(("Note", self.development_note()))
        return rows

    def limits_text(self) -> str:
        """The limits in words: ``at most 50 virtual meters and 5 named users``.

        ``no limits`` when the license sets none.
        """
        parts = [
            f"{self.limits[name]} {words}"
            for name, words in KNOWN_LIMITS.items()
            if name in self.limits
        ]
        if not parts:
            return "no limits"
        listed = parts[0] if len(parts) == 1 else f"{', '.join(parts[:-1])} and {parts[-1]}"
        return f"at most {listed}"

    def development_note(self) -> str:
        """What the log, ``meterhub license show`` and the UI footer say of this license.

        For the development license: every feature, its limits, not for production; empty for
        any other license.
        """
        if not self.development:
            return ""
        return (
            f"Development license (no license file): every feature enabled, {self.limits_text()}; "
            "not for production"
        )

    def as_dict(self, today: date | None = None) -> dict[str, Any]:
        """The license as JSON-ready data (for ``meterhub license show --json`` and the API)."""
        return {
            "customer": self.customer,
            "license_id": self.license_id,
            "issued": self.issued.isoformat(),
            "expires": self.expires.isoformat() if self.expires else None,
            "days_left": self.days_left(today),
            "limits": {name: self.limits.get(name) for name in KNOWN_LIMITS},
            "features": sorted(self.features),
            "development": self.development,
            "source": str(self.source) if self.source else None,
        }

    def _days_left_text(self, today: date | None) -> str:
        left = self.days_left(today)
        if left is None:
            return "unlimited"
        if left < 0:
            return f"none (expired on {self.expires})"
        if left == 0:
            return "0 (today is the last day)"
        return str(left)

    def _features_text(self) -> str:
        if ALL_FEATURES in self.features:
            return "all (*)"
        if not self.features:
            return "none"
        return ", ".join(sorted(self.features))


def development_license() -> License:
    """The license used without a license file: every feature within :data:`DEVELOPMENT_LIMITS`.

    It never expires. Tests, demos and benchmarks that need more sign a license of their own
    with a key they configure as trusted (``license_public_key``); there is no other way around
    the limits.
    """
    return License(
        customer=DEVELOPMENT_CUSTOMER,
        license_id=DEVELOPMENT_LICENSE_ID,
        issued=date.today(),
        expires=None,
        limits=DEVELOPMENT_LIMITS,
        features=frozenset({ALL_FEATURES}),
        development=True,
        source=None,
    )
