"""The Moves quota: how many requests the app may still send in this clock minute and hour.

Moves counts requests per client app (every member shares one budget), in
fixed windows by its own clock: "the quotas reset at the top of each hour and
minute". So the app keeps the two counters itself (``apiclients.windows``),
indexed by the *server's* minute and hour, and learns the server's clock from
the ``Date`` header of every answer (``ServerClock``). Capacity is handed out
as whole batches (``MovesQuota.reserve``) by the dispatcher; a run then sends
its batch's requests while their window lasts (``Batch.take``). The counters
are checked and counted atomically in Redis, so no clock minute or hour of
Moves ever receives more than its limit minus the safety threshold, however
many workers race.
"""

import email.utils
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import redis
from django.conf import settings

from apiclients.windows import Window, WindowCounter

# Widening of the clock bounds per second since they were learnt (10 ppm, a
# poor quartz), so old observations never pin a drifted clock.
CLOCK_DRIFT = 1e-5
CLOCK_TTL_SECONDS = 24 * 3600
# Both clocks are assumed right to within this (NTP keeps servers far closer)
# until Date headers prove otherwise; a whole second, the Date header's own
# resolution, would waste a second of every window.
ASSUMED_ACCURACY_SECONDS = 0.1

# KEYS[1]: the bounds hash. ARGV: lo, hi, now, drift, ttl. Narrows the known
# offset (server minus local) to what every observation allows; an
# observation that contradicts the rest (the server's clock was stepped)
# starts the bounds afresh.
_OBSERVE = """
local lo = tonumber(ARGV[1])
local hi = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local current = redis.call('HMGET', KEYS[1], 'lo', 'hi', 'at')
if current[1] then
  local age = now - tonumber(current[3])
  if age < 0 then age = 0 end
  local widen = age * tonumber(ARGV[4])
  local known_lo = tonumber(current[1]) - widen
  local known_hi = tonumber(current[2]) + widen
  local new_lo = math.max(known_lo, lo)
  local new_hi = math.min(known_hi, hi)
  if new_lo <= new_hi then
    lo = new_lo
    hi = new_hi
  end
end
redis.call('HSET', KEYS[1], 'lo', tostring(lo), 'hi', tostring(hi), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], ARGV[5])
return 1
"""


class ServerClock:
    """Bounds on the offset between the server's clock and ours, learnt from its ``Date`` headers.

    A ``Date`` header names the whole second in which the server answered,
    so each answer says: offset is within [D - received, D + 1 - sent]. The
    intersection over many answers narrows to a few milliseconds. The bounds
    live in Redis, shared by every worker.
    """

    def __init__(self, client: redis.Redis, key: str, accuracy: float = ASSUMED_ACCURACY_SECONDS) -> None:
        self.client = client
        self.key = key
        self.accuracy = accuracy
        self._observe = client.register_script(_OBSERVE)

    def observe(self, date_header: str | None, sent_at: float, received_at: float) -> None:
        server_second = parse_http_date(date_header)
        if server_second is None:
            return
        lo, hi = server_second - received_at, server_second + 1 - sent_at
        self._observe(
            keys=[self.key], args=[repr(lo), repr(hi), repr(time.time()), CLOCK_DRIFT, CLOCK_TTL_SECONDS]
        )

    def offset_bounds(self, now: float | None = None) -> tuple[float, float]:
        """(lowest, highest) offset the server's clock may have from ours, in seconds.

        While every ``Date`` header seen agrees with our clock being right,
        the assumed accuracy bounds it; once they prove the server's clock
        off, what they allow is all that is known.
        """
        now = time.time() if now is None else now
        values = self.client.hmget(self.key, ["lo", "hi", "at"])
        if values[0] is None:
            return -self.accuracy, self.accuracy
        lo, hi, at = (float(value or 0) for value in values)
        widen = max(0.0, now - at) * CLOCK_DRIFT
        lo, hi = lo - widen, hi + widen
        if lo <= 0 <= hi:
            return max(lo, -self.accuracy), min(hi, self.accuracy)
        return lo, hi


def parse_http_date(value: str | None) -> float | None:
    """An HTTP date as epoch seconds, or None when absent or unreadable."""
    if not value:
        return None
    try:
        moment = email.utils.parsedate_to_datetime(value.strip()[:64])
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment.tzinfo is None:
        return None
    return moment.timestamp()


@dataclass(frozen=True)
class Usage:
    """Requests counted in the current windows, for operators."""

    minute_used: int
    minute_limit: int
    hour_used: int
    hour_limit: int


@dataclass
class Batch:
    """Requests reserved for one run in one server minute (and the hour holding it).

    ``take`` spends one before each Moves request. The batch is only good
    while the server is surely still in its minute: a request that reached
    the server in the next minute would count against capacity already
    handed to someone else.
    """

    minute: int
    size: int
    used: int = 0

    @property
    def left(self) -> int:
        return self.size - self.used

    def use_up(self) -> None:
        """Spend what is left: after a 429 none of it may be handed out again in that window."""
        self.used = self.size

    def as_task_argument(self) -> dict[str, int]:
        return {"minute": self.minute, "size": self.size}

    @classmethod
    def from_task_argument(cls, value: dict[str, int]) -> "Batch":
        return cls(minute=int(value["minute"]), size=int(value["size"]))


class MovesQuota:
    """The app-wide Moves limits as fixed server-clock windows, shared by every worker."""

    def __init__(
        self,
        client: redis.Redis,
        *,
        per_minute: int,
        per_hour: int,
        time_scale: float = 1.0,
        safety_threshold: int = 1,
        prefix: str = "quota:moves",
        clock_accuracy: float = ASSUMED_ACCURACY_SECONDS,
    ) -> None:
        self.client = client
        self.minute = Window("minute", 60 / time_scale, max(1, per_minute - safety_threshold))
        self.hour = Window("hour", 3600 / time_scale, max(1, per_hour - safety_threshold))
        self.windows = (self.minute, self.hour)
        self.counter = WindowCounter(client, prefix)
        self.clock = ServerClock(client, f"{prefix}:clock", clock_accuracy)
        # A request takes a moment to reach the server; scaled with the windows.
        self.margin = 0.25 / time_scale
        # Set while the server has recently told us its own counts.
        self._known_key = f"{prefix}:known"

    # --- Reading the clock ------------------------------------------------------

    def server_time_bounds(self, now: float | None = None) -> tuple[float, float]:
        now = time.time() if now is None else now
        lo, hi = self.clock.offset_bounds(now)
        return now + lo, now + hi

    def certain_minute(self, now: float | None = None) -> int | None:
        """The server's minute index if it is sure (with the margin), else None (near a boundary)."""
        earliest, latest = self.server_time_bounds(now)
        index = self.minute.index(earliest)
        if self.minute.index(latest + self.margin) != index:
            return None
        return index

    def minute_to_hand_out(self, now: float | None = None) -> int | None:
        """The current minute, if enough of it is left for a run to use a batch in it.

        A batch handed out in the last tenth of a minute would mostly lapse
        before its run sends anything; the next minute's tick does better.
        """
        minute = self.certain_minute(now)
        if minute is None:
            return None
        _, latest = self.server_time_bounds(now)
        if self.minute.end(minute) - latest - self.margin < self.minute.length / 10:
            return None
        return minute

    def local_start_of(self, window: Window, index: int) -> float:
        """Our clock's time at which the server is surely inside window ``index``."""
        lo, _ = self.clock.offset_bounds()
        return window.start(index) - lo

    def next_opening(self, now: float | None = None) -> float:
        """When (our clock) new capacity next appears: the next minute, or the next hour when it is spent."""
        now = time.time() if now is None else now
        _, latest = self.server_time_bounds(now)
        minute_used, hour_used = self.counter.used(self.windows, latest)
        if hour_used >= self.hour.limit:
            return self.local_start_of(self.hour, self.hour.index(latest) + 1)
        if minute_used >= self.minute.limit:
            return self.local_start_of(self.minute, self.minute.index(latest) + 1)
        return now

    # --- Handing out capacity ------------------------------------------------------

    def reserve(self, amount: int, now: float | None = None) -> Batch | None:
        """Count up to ``amount`` requests into the current minute and hour; None if none are free.

        Until the server has told us how much of its windows is used (after a
        Redis restart lost our counters, or on first use), only one request is
        handed out: its answer's remaining-quota headers say the rest.
        """
        minute = self.minute_to_hand_out(now)
        if minute is None or amount <= 0:
            return None
        moment = self.minute.start(minute) + self.minute.length / 2
        # Unknown counts: one request a minute until an answer says the rest.
        limits = None if self.client.exists(self._known_key) else [1, self.hour.limit]
        taken = self.counter.take(self.windows, moment, amount, partial=True, limits=limits)
        if taken.granted <= 0:
            return None
        return Batch(minute=minute, size=taken.granted)

    def take(self, batch: Batch, now: float | None = None) -> bool:
        """Spend one request of ``batch``; False when it is used up or its minute is (nearly) over."""
        if batch.left <= 0 or self.certain_minute(now) != batch.minute:
            return False
        batch.used += 1
        return True

    def give_back(self, batch: Batch) -> int:
        """Return the unspent requests of ``batch`` to its minute and hour; returns how many.

        Called once its run sends nothing more. Whatever time it is, the
        unspent requests never reached Moves: ``take`` refuses once the
        batch's minute is over. Given back late, they no longer help that
        minute, but they are still free in its hour, which is what binds
        when a run could not use its whole batch in time.
        """
        left = batch.left
        if left <= 0:
            return 0
        self.counter.give_back(self.windows, self.minute.start(batch.minute) + self.minute.length / 2, left)
        batch.size = batch.used
        return left

    def free(self, now: float | None = None) -> int:
        """Requests still free in the current minute and hour (0 near a minute's end)."""
        minute = self.minute_to_hand_out(now)
        return 0 if minute is None else self._free_in(minute)

    def free_next_minute(self, now: float | None = None) -> int:
        """Requests the next server minute will have, as counted now (its hour's use so far included)."""
        _, latest = self.server_time_bounds(now)
        return self._free_in(self.minute.index(latest) + 1)

    def _free_in(self, minute: int) -> int:
        moment = self.minute.start(minute) + self.minute.length / 2
        minute_used, hour_used = self.counter.used(self.windows, moment)
        free = max(0, min(self.minute.limit - minute_used, self.hour.limit - hour_used))
        if self.client.exists(self._known_key):
            return free
        return min(free, 1) if minute_used == 0 else 0

    def usage(self, now: float | None = None) -> Usage:
        _, latest = self.server_time_bounds(now)
        minute_used, hour_used = self.counter.used(self.windows, latest)
        return Usage(minute_used, self.minute.limit, hour_used, self.hour.limit)

    def observe(self, headers: Mapping[str, str], sent_at: float, received_at: float) -> None:
        """Learn from one Moves answer: the server's clock, and how much of its windows is used.

        Every Moves answer carries ``X-RateLimit-{Minute,Hour}{Limit,Remaining}``;
        ``limit - remaining`` is the server's own count, which can be more than
        ours (a restart of Redis, another process with the same client id).
        """
        date_header = headers.get("Date")
        self.clock.observe(date_header, sent_at, received_at)
        server_time = parse_http_date(date_header)
        used = [_used(headers, "Minute"), _used(headers, "Hour")]
        if server_time is None or None in used:
            return
        # The Date names a whole second; its middle is as good as any moment of it.
        self.counter.raise_to(self.windows, server_time + 0.5, [int(count or 0) for count in used])
        self.client.set(self._known_key, "1", ex=int(self.hour.length * 2) + 1)

    def rate_limited_until(self, hour_exhausted: bool, now: float | None = None) -> float:
        """After a 429: when (our clock) the window that refused us has surely reset."""
        _, latest = self.server_time_bounds(now)
        window = self.hour if hour_exhausted else self.minute
        # The server refused us, so this window is full whatever we counted.
        self.counter.raise_to([window], latest, [window.limit])
        return self.local_start_of(window, window.index(latest) + 1) + self.margin


def _used(headers: Mapping[str, str], window: str) -> int | None:
    try:
        limit = int(headers[f"X-RateLimit-{window}Limit"])
        remaining = int(headers[f"X-RateLimit-{window}Remaining"])
    except (KeyError, TypeError, ValueError):
        return None
    return max(0, limit - remaining)


def seconds_until(moment: float, now: float | None = None) -> float:
    now = time.time() if now is None else now
    return max(0.0, moment - now)


def ceil_seconds(value: float) -> int:
    return max(1, math.ceil(value))


def moves_quota(client: redis.Redis | None = None) -> MovesQuota:
    """The app's Moves quota as the settings describe it."""
    return MovesQuota(
        client or redis.Redis.from_url(settings.REDIS_URL),
        per_minute=settings.MOVES_REQUESTS_PER_MINUTE,
        per_hour=settings.MOVES_REQUESTS_PER_HOUR,
        time_scale=settings.RATE_LIMIT_TIME_SCALE,
        safety_threshold=settings.RATE_LIMIT_SAFETY_THRESHOLD,
    )
