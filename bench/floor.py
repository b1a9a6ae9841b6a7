"""The exact floor: the least time in which Moves' two fixed windows let N requests through.

Moves counts requests per app in clock minutes and clock hours, each
holding at most L = limit - safety threshold of ours. Started at the top of
an hour, the fastest schedule sends as much as both windows allow in every
minute: a full hour holds C = min(L_hour, minutes per hour x L_minute)
requests, so N requests need k = ceil(N / C) hours, and the R = N - (k - 1)C
of the last hour need ceil(R / L_minute) of its minutes. The first window
needs no wait, so the last request goes at the start of the last of those
minutes: (k - 1) hours and ceil(R / L_minute) - 1 minutes after the start.
(Taking only the larger of the two windows' floors, as an earlier version
did, forgets the minutes the last hour still needs; counting whole windows
adds one window too many.)
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
    def minutes_per_hour(self) -> int:
        return round(self.hour_seconds / self.minute_seconds)

    @property
    def hour_capacity(self) -> int:
        return min(self.hour_limit, self.minutes_per_hour * self.minute_limit)

    @property
    def hour_windows(self) -> int:
        return max(1, math.ceil(self.requests / self.hour_capacity))

    @property
    def last_hour_requests(self) -> int:
        return max(0, self.requests - (self.hour_windows - 1) * self.hour_capacity)

    @property
    def last_hour_minute_windows(self) -> int:
        return max(1, math.ceil(self.last_hour_requests / self.minute_limit))

    @property
    def seconds(self) -> float:
        return (self.hour_windows - 1) * self.hour_seconds + (
            self.last_hour_minute_windows - 1
        ) * self.minute_seconds

    def describe(self) -> str:
        return (
            f"{self.hour_windows} hour(s) of at most {self.hour_capacity}, "
            f"the last with {self.last_hour_requests} in {self.last_hour_minute_windows} "
            f"minute(s) of {self.minute_limit} = {self.seconds:.1f} s"
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
