"""Fixed clock windows counted in Redis: how Moves counts its quota, for the app and the stand-in alike.

Moves documents its limits as windows that "reset at the top of each hour
and minute" (https://dev.moves-app.com/docs/api, Rate limits): a request
belongs to the clock minute and the clock hour in which the server received
it. A window is therefore named by its index, ``floor(t / length)``, and its
use is one Redis counter per index that expires soon after the window ends.

One Lua script checks every window a request belongs to and counts it in all
of them, atomically, so racing processes can never put more than the limit
into any window. The app uses it to reserve batches of requests ahead of
sending them (``apiclients.quota``); the sandbox's stand-in Moves uses the
same script to decide whether to answer 429, so the two cannot disagree on
what a window is.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

# KEYS: one counter per window. ARGV[1]: how many uses are wanted; ARGV[2]:
# "1" to grant what fits, "0" for all or nothing; then per key its limit and
# expiry in milliseconds. Returns {granted, count of each key afterwards}.
TAKE_SCRIPT = """
local wanted = tonumber(ARGV[1])
local partial = ARGV[2] == '1'
local room = wanted
local counts = {}
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  counts[i] = used
  local free = tonumber(ARGV[1 + 2 * i]) - used
  if free < room then room = free end
end
if room < 0 then room = 0 end
local granted = room
if room < wanted and not partial then granted = 0 end
if granted > 0 then
  for i, key in ipairs(KEYS) do
    counts[i] = redis.call('INCRBY', key, granted)
    redis.call('PEXPIRE', key, ARGV[2 + 2 * i])
  end
end
local reply = {granted}
for i = 1, #counts do reply[i + 1] = counts[i] end
return reply
"""

# KEYS: counters; ARGV[1]: how many uses to hand back. Never below zero, and
# a counter that already expired stays gone.
GIVE_BACK_SCRIPT = """
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used > 0 then
    local left = used - tonumber(ARGV[1])
    if left < 0 then left = 0 end
    redis.call('SET', key, left, 'KEEPTTL')
  end
end
return 1
"""

# KEYS: counters; ARGV: per key the count it must hold at least, and its
# expiry in milliseconds. Only ever raises a count.
RAISE_SCRIPT = """
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  local wanted = tonumber(ARGV[2 * i - 1])
  if wanted > used then
    redis.call('SET', key, wanted, 'PX', ARGV[2 * i])
  end
end
return 1
"""

# Counters outlive their window by this much, so a late reader still sees them.
EXPIRY_MARGIN_SECONDS = 5.0


@dataclass(frozen=True)
class Window:
    """A kind of fixed window: its name, its length in seconds and how many uses one may hold."""

    name: str
    length: float
    limit: int

    def index(self, moment: float) -> int:
        """Which window of this kind ``moment`` (seconds since the epoch) falls in."""
        return math.floor(moment / self.length)

    def start(self, index: int) -> float:
        return index * self.length

    def end(self, index: int) -> float:
        return (index + 1) * self.length


@dataclass(frozen=True)
class Taken:
    """The outcome of a take: how many uses were granted and each window's count afterwards."""

    granted: int
    counts: tuple[int, ...]


class WindowCounter:
    """Counts uses of fixed windows in Redis under ``prefix``."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._take = client.register_script(TAKE_SCRIPT)
        self._give_back = client.register_script(GIVE_BACK_SCRIPT)
        self._raise = client.register_script(RAISE_SCRIPT)

    def key(self, window: Window, index: int) -> str:
        return f"{self.prefix}:{window.name}:{index}"

    def take(
        self,
        windows: Sequence[Window],
        moment: float,
        amount: int = 1,
        *,
        partial: bool = False,
        limits: Sequence[int] | None = None,
    ) -> Taken:
        """Count ``amount`` uses in the window of each kind that holds ``moment``.

        All or nothing unless ``partial``, in which case as many as fit in
        every window are granted. ``limits`` overrides the windows' own
        limits (the stand-in doubles them for new tokens).
        """
        if amount < 0:
            raise ValueError("amount must not be negative")
        limits = list(limits) if limits is not None else [window.limit for window in windows]
        keys = [self.key(window, window.index(moment)) for window in windows]
        args: list[Any] = [amount, "1" if partial else "0"]
        for window, limit in zip(windows, limits, strict=True):
            args += [limit, _expiry_ms(window, moment)]
        granted, *counts = self._take(keys=keys, args=args)
        return Taken(granted=int(granted), counts=tuple(int(count) for count in counts))

    def give_back(self, windows: Sequence[Window], moment: float, amount: int) -> None:
        """Uncount ``amount`` uses that were taken for the windows holding ``moment`` but not used."""
        if amount <= 0:
            return
        keys = [self.key(window, window.index(moment)) for window in windows]
        self._give_back(keys=keys, args=[amount])

    def used(self, windows: Sequence[Window], moment: float) -> tuple[int, ...]:
        """How many uses each window holding ``moment`` has counted so far."""
        keys = [self.key(window, window.index(moment)) for window in windows]
        return tuple(int(value or 0) for value in self.client.mget(keys))

    def raise_to(self, windows: Sequence[Window], moment: float, counts: Sequence[int]) -> None:
        """Make each window holding ``moment`` count at least the given number of uses.

        For what the other side says it has counted (a server's remaining-quota
        headers), which may be more than we know of.
        """
        keys = [self.key(window, window.index(moment)) for window in windows]
        args: list[Any] = []
        for window, count in zip(windows, counts, strict=True):
            args += [int(count), _expiry_ms(window, moment)]
        self._raise(keys=keys, args=args)


def _expiry_ms(window: Window, moment: float) -> int:
    remaining = window.end(window.index(moment)) - moment
    return max(1, math.ceil((remaining + EXPIRY_MARGIN_SECONDS) * 1000))
