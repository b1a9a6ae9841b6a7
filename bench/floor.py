"""The exact floor: the least time in which Moves' two fixed windows let N requests through.

Moves counts requests per app in clock minutes and clock hours, each
holding at most L = limit - safety threshold of ours. Started at the top of
a window, N requests need ceil(N / L) windows of each kind; the first needs
no wait, so the last request can go at the start of window ceil(N / L),
(ceil(N / L) - 1) window lengths after the start. The floor is the larger of
the two. (Counting ceil(N / L) whole windows instead, as an earlier version
of this benchmark did, adds one window too many.)
"""

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Floor:
    requests: int
    minute_limit: int
    hour_limit: int
    minute_seconds: float
    hour_seconds: float

    @property
    def minute_windows(self) -> int:
        return max(1, math.ceil(self.requests / self.minute_limit))

    @property
    def hour_windows(self) -> int:
        return max(1, math.ceil(self.requests / self.hour_limit))

    @property
    def minute_floor(self) -> float:
        return (self.minute_windows - 1) * self.minute_seconds

    @property
    def hour_floor(self) -> float:
        return (self.hour_windows - 1) * self.hour_seconds

    @property
    def seconds(self) -> float:
        return max(self.minute_floor, self.hour_floor)

    def describe(self) -> str:
        return (
            f"minute: {self.minute_windows} windows of {self.minute_limit} = {self.minute_floor:.1f} s; "
            f"hour: {self.hour_windows} of {self.hour_limit} = {self.hour_floor:.1f} s"
        )


def exact_floor(
    requests: int, *, scale: float, per_minute: int = 60, per_hour: int = 2000, safety_threshold: int = 1
) -> Floor:
    return Floor(
        requests=requests,
        minute_limit=max(1, per_minute - safety_threshold),
        hour_limit=max(1, per_hour - safety_threshold),
        minute_seconds=60 / scale,
        hour_seconds=3600 / scale,
    )


def from_settings(requests: int) -> Floor:
    """The floor for the limits the app runs with (Django settings loaded)."""
    from django.conf import settings

    return exact_floor(
        requests,
        scale=float(settings.RATE_LIMIT_TIME_SCALE),
        per_minute=settings.MOVES_REQUESTS_PER_MINUTE,
        per_hour=settings.MOVES_REQUESTS_PER_HOUR,
        safety_threshold=settings.RATE_LIMIT_SAFETY_THRESHOLD,
    )
