"""The frozen time the M-Bus tests run their simulators at."""

from __future__ import annotations

from datetime import UTC, datetime

NOW = datetime(2026, 3, 2, 12, tzinfo=UTC)
AT = int(NOW.timestamp())
