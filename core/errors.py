"""Exceptions raised by MeterHub, each naming what is wrong in words a user can act on."""

from __future__ import annotations


class MeterHubError(Exception):
    """Base class of every error MeterHub raises on purpose."""


class InvalidValue(MeterHubError, ValueError):
    """A value given for a named field is not acceptable; nothing was written.

    ``field`` names the field (``"eic"``, ``"attributes.tariff"``, ``"valid_from"``) and ``reason``
    says why, so an API can answer ``{"field": ..., "reason": ...}``.
    """

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class NotFound(MeterHubError, LookupError):
    """An object looked up by name or id does not exist."""


class Conflict(MeterHubError):
    """The change collides with existing data (a duplicate name, an overlapping period)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


class LicenseError(MeterHubError):
    """The license file is missing a signature, tampered with, expired or malformed."""


class LicenseLimitExceeded(LicenseError):
    """Creating an object would exceed a limit of the license (virtual meters, named users)."""


class FeatureNotLicensed(LicenseError):
    """The feature an action needs is not enabled by the license."""


class NotYetAvailable(MeterHubError):
    """A capability that a later release delivers; the message says which."""


class ConfigurationError(MeterHubError):
    """The settings (TOML file or ``METERHUB_*`` variables) are invalid."""


class AuthenticationRequired(MeterHubError):
    """The request carries no valid credentials (no login, an expired or revoked token)."""


class PermissionDenied(MeterHubError):
    """The user is known but the roles do not allow the action (or the object is out of scope)."""


class TooManyAttempts(MeterHubError):
    """Login attempts come faster than allowed; ``retry_after`` says when to try again (s)."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
