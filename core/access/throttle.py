"""Login throttling: failed attempts per user name and per client address in a moving window.

Each failed login counts against the user name and against the client's address; once either
has ``login.attempts_per_minute`` failures within the last minute, further attempts are refused
with :class:`~meterhub.errors.TooManyAttempts` (and its ``retry_after``) before any password is
checked, so guessing gets slow while a user who types the password right is never held up. The
counts live in the memory of one process (the ``limits`` library's moving window); the lockout
after ``password.max_failed_logins`` (stored with the user) is the limit across processes.
"""

from __future__ import annotations

import math
import time

from limits import RateLimitItemPerMinute
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter

from meterhub.errors import TooManyAttempts


class LoginThrottle:
    """Counts failed logins per key (``user:<name>``, ``client:<address>``) in one process."""

    def __init__(self) -> None:
        self._limiter = MovingWindowRateLimiter(MemoryStorage())

    def check(self, per_minute: int, *keys: str) -> None:
        """Raise :class:`TooManyAttempts` when any key has used up its failures this minute."""
        item = RateLimitItemPerMinute(per_minute)
        for key in keys:
            if not self._limiter.test(item, key):
                reset = self._limiter.get_window_stats(item, key).reset_time
                retry_after = max(1, math.ceil(reset - time.time()))
                raise TooManyAttempts(
                    f"too many failed logins; try again in {retry_after} s", retry_after
                )

    def failed(self, per_minute: int, *keys: str) -> None:
        """Count one failed login against each key."""
        item = RateLimitItemPerMinute(per_minute)
        for key in keys:
            self._limiter.hit(item, key)
